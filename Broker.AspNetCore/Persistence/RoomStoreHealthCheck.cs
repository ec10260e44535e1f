using Broker.Actors.Rooms;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Broker.AspNetCore.Persistence;

/// <summary>
/// <c>/health/ready</c>'s word on durable rooms: whether their store answers now, and the last
/// failure a room saw. A node whose store is down still serves sockets and memory rooms, so this is
/// <c>Degraded</c> (still 200, the load balancer keeps the node) with the reason in the body.
/// </summary>
public sealed class RoomStoreHealthCheck(RoomStore store, RoomStoreHealth rooms) : IHealthCheck
{
    /// <summary>How long a room's failure is reported after the store answers probes again (rooms retry within seconds).</summary>
    private static readonly TimeSpan RecentFailure = TimeSpan.FromSeconds(30);

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!store.Configured) return HealthCheckResult.Healthy("no durable-room store configured (Broker:Persistence:Provider=none)");
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(2));
            await store.ProbeAsync(timeout.Token);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Degraded(
                $"durable rooms unavailable: cannot reach {store.Describe()}: {e.GetBaseException().Message}; publishes to durable rooms get 'unavailable' until it is back");
        }
        if (rooms.Failure is { } failure && DateTimeOffset.UtcNow - failure.At < RecentFailure)
            return HealthCheckResult.Degraded(
                $"{store.Describe()} answers, but room '{failure.RoomId}' last failed to use it at {failure.At:O}: {failure.Reason}; rooms retry by themselves");
        return HealthCheckResult.Healthy($"{store.Describe()} answers");
    }
}
