using System.Diagnostics;
using System.Diagnostics.Metrics;
using Akka.Actor;
using Akka.Cluster;
using Broker.Actors.Connections;
using Broker.Actors.Observability;
using Broker.AspNetCore.Hosting;

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
/// Feeds the <c>/admin</c> page: connection counts from the node's supervisor, cluster state from
/// Akka, and rates from the broker's instruments (a <see cref="MeterListener"/> sums them in this
/// process; rates are over the last ~10 s of polls).
/// </summary>
public sealed class AdminStats : IDisposable
{
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(10);
    private readonly BrokerNode _node;
    private readonly MeterListener _listener = new();
    private readonly Queue<Sample> _samples = new();
    private long _publishes, _deliveries, _framesIn, _framesOut, _rooms;

    public AdminStats(BrokerNode node)
    {
        _node = node;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == BrokerMetrics.MeterName && Target(instrument.Name) is not null)
                listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
        {
            switch (instrument.Name)
            {
                case "broker_publishes_total": Interlocked.Add(ref _publishes, value); break;
                case "broker_deliveries_total": Interlocked.Add(ref _deliveries, value); break;
                case "broker_frames_in_total": Interlocked.Add(ref _framesIn, value); break;
                case "broker_frames_out_total": Interlocked.Add(ref _framesOut, value); break;
                case "broker_rooms_active": Interlocked.Add(ref _rooms, value); break;
            }
        });
        _listener.Start();
    }

    private static string? Target(string name) => name is "broker_publishes_total" or "broker_deliveries_total"
        or "broker_frames_in_total" or "broker_frames_out_total" or "broker_rooms_active" ? name : null;

    /// <summary>Takes a sample now and answers with the current counts and rates.</summary>
    public async Task<AdminStatsResponse> SnapshotAsync(CancellationToken cancellationToken)
    {
        var stats = await _node.Connections.Ask<ConnectionMessages.Stats>(ConnectionMessages.GetStats.Instance, TimeSpan.FromSeconds(5), cancellationToken);
        var cluster = Cluster.Get(_node.System).State;
        var now = new Sample(Stopwatch.GetTimestamp(), Interlocked.Read(ref _publishes), Interlocked.Read(ref _deliveries),
            Interlocked.Read(ref _framesIn), Interlocked.Read(ref _framesOut));
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
            _node.NodeName, _node.IsReady, stats.Connections, stats.Authenticated, stats.ByRoute,
            Interlocked.Read(ref _rooms), cluster.Members.Count, cluster.Unreachable.Count,
            Rate(now.Publishes, oldest.Publishes), Rate(now.Deliveries, oldest.Deliveries),
            Rate(now.FramesIn, oldest.FramesIn), Rate(now.FramesOut, oldest.FramesOut),
            now.Publishes, now.Deliveries);
    }

    public void Dispose() => _listener.Dispose();

    private readonly record struct Sample(long At, long Publishes, long Deliveries, long FramesIn, long FramesOut);
}
