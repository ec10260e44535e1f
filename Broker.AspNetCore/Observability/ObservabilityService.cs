using Akka.Actor;
using Akka.Cluster;
using Broker.Actors.Observability;
using Broker.AspNetCore.Configuration;
using Broker.AspNetCore.Hosting;
using Microsoft.Extensions.Options;

namespace Broker.AspNetCore.Observability;

/// <summary>
/// Attaches observability to the node once its actor system is up: the access logger subscribes
/// to the event stream and the cluster gauges start reading this node's view of the cluster.
/// Registered after the Akka host, so it starts before Kestrel accepts the first socket.
/// </summary>
public sealed class ObservabilityService(BrokerNode node, ILoggerFactory loggers, IOptions<BrokerOptions> options) : IHostedService
{
    private IDisposable? _clusterGauges;
    private AccessLogGate? _accessLog;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await node.Started.WaitAsync(cancellationToken);
        _accessLog = AccessLogGate.Start(node.System, loggers.CreateLogger(AccessLog.Category), options.Value.Limits.AccessLogQueue);
        _clusterGauges = BrokerMetrics.ObserveCluster(Cluster.Get(node.System), node.NodeName);
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _clusterGauges?.Dispose();
        return Task.CompletedTask;
    }
}
