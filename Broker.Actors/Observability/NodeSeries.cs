using static Broker.Contracts.Cluster.NodeReportEvents;

namespace Broker.Actors.Observability;

/// <summary>
/// The node's last <see cref="Capacity"/> samples (one per tick): connections, and publishes and
/// deliveries per second computed from the running totals between two ticks. A ring: the console
/// draws minutes of history from the first poll, and the memory it takes is fixed.
/// </summary>
public sealed class NodeSeries(int capacity)
{
    private readonly NodeSample[] _ring = new NodeSample[Math.Max(1, capacity)];
    private int _next, _count;
    private (long AtMs, long Publishes, long Deliveries)? _last;

    /// <summary>How many samples it keeps.</summary>
    public int Capacity => _ring.Length;

    /// <summary>Records a tick at <paramref name="atMs"/> (unix ms) with the totals then; the first tick's rates are 0.</summary>
    public NodeSample Add(long atMs, int connections, long publishesTotal, long deliveriesTotal)
    {
        double publishes = 0, deliveries = 0;
        if (_last is { } last && atMs > last.AtMs)
        {
            var seconds = (atMs - last.AtMs) / 1000.0;
            publishes = Math.Round(Math.Max(0, publishesTotal - last.Publishes) / seconds, 2);
            deliveries = Math.Round(Math.Max(0, deliveriesTotal - last.Deliveries) / seconds, 2);
        }
        _last = (atMs, publishesTotal, deliveriesTotal);
        var sample = new NodeSample(atMs, connections, publishes, deliveries);
        _ring[_next] = sample;
        _next = (_next + 1) % _ring.Length;
        _count = Math.Min(_count + 1, _ring.Length);
        return sample;
    }

    /// <summary>The kept samples, oldest first.</summary>
    public NodeSample[] Samples()
    {
        var samples = new NodeSample[_count];
        var first = (_next - _count + _ring.Length) % _ring.Length;
        for (var i = 0; i < _count; i++) samples[i] = _ring[(first + i) % _ring.Length];
        return samples;
    }
}
