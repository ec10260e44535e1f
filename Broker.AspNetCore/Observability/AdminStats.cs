using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using Broker.Actors.Connections;
using Broker.Actors.Observability;
using Broker.AspNetCore.Configuration;
using Broker.AspNetCore.Hosting;
using Microsoft.Extensions.Options;

namespace Broker.AspNetCore.Observability;

/// <summary>The body of <c>GET /admin/stats</c>.</summary>
public sealed record AdminStatsResponse(
    string Node,
    bool Ready,
    int Connections,
    int Authenticated,
    IReadOnlyDictionary<string, int> ByRoute,
    long RoomsActive,
    int ClusterMembers,
    int ClusterUnreachable,
    double PublishesPerSecond,
    double DeliveriesPerSecond,
    double FramesInPerSecond,
    double FramesOutPerSecond,
    long PublishesTotal,
    long DeliveriesTotal);

/// <summary>
/// <c>/admin/stats</c>: this node's connection counts from its supervisor, cluster state from
/// Akka, and rates from <see cref="BrokerCounters"/> (over the last ~10 s of polls).
/// </summary>
public sealed class AdminStats(BrokerNode node, BrokerCounters counters, IOptions<BrokerOptions> options)
{
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(10);
    private readonly TimeSpan _askTimeout = options.Value.Limits.AskTimeout;
    private readonly Queue<Sample> _samples = new();

    /// <summary>Takes a sample now and answers with the current counts and rates.</summary>
    public async Task<AdminStatsResponse> SnapshotAsync(CancellationToken cancellationToken)
    {
        var stats = await node.Connections.Ask<ConnectionMessages.Stats>(ConnectionMessages.GetStats.Instance, _askTimeout, cancellationToken);
        var cluster = Cluster.Get(node.System).State;
        var now = new Sample(Stopwatch.GetTimestamp(), counters.Publishes, counters.Deliveries, counters.FramesIn, counters.FramesOut);
        Sample oldest;
        lock (_samples)
        {
            _samples.Enqueue(now);
            while (_samples.Count > 2 && Stopwatch.GetElapsedTime(_samples.Peek().At, now.At) > Window) _samples.Dequeue();
            oldest = _samples.Peek();
        }
        var seconds = Stopwatch.GetElapsedTime(oldest.At, now.At).TotalSeconds;
        double Rate(long current, long before) => seconds <= 0 ? 0 : Math.Round((current - before) / seconds, 2);

        return new AdminStatsResponse(
            node.NodeName, node.IsReady, stats.Connections, stats.Authenticated, stats.ByRoute,
            counters.RoomsActive, cluster.Members.Count, cluster.Unreachable.Count,
            Rate(now.Publishes, oldest.Publishes), Rate(now.Deliveries, oldest.Deliveries),
            Rate(now.FramesIn, oldest.FramesIn), Rate(now.FramesOut, oldest.FramesOut),
            now.Publishes, now.Deliveries);
    }

    private readonly record struct Sample(long At, long Publishes, long Deliveries, long FramesIn, long FramesOut);
}
