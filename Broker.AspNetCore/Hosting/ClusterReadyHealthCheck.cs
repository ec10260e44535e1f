using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Broker.AspNetCore.Hosting;

/// <summary><c>/health/ready</c>: healthy while this node is an Up cluster member and not shutting down.</summary>
public sealed class ClusterReadyHealthCheck(BrokerNode node) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(node.IsReady
            ? HealthCheckResult.Healthy("joined and serving")
            : HealthCheckResult.Unhealthy(node.ShuttingDown ? "shutting down" : "not joined to the cluster"));
}
