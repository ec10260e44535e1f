using System.Diagnostics;
using HdrHistogram;

namespace Broker.Bench.Load;

/// <summary>
/// Publish→deliver latency in HdrHistogram, one histogram per receiving thread (recording takes no
/// lock; thousands of subscribers share a handful of thread-pool threads), merged when a phase ends.
/// Values are microseconds, 1 µs to 1 h at 3 significant digits.
/// </summary>
public sealed class LatencyRecorder
{
    private const long Highest = 3_600_000_000;
    private static readonly double MicrosPerTick = 1_000_000.0 / Stopwatch.Frequency;

    [ThreadStatic] private static Dictionary<LatencyRecorder, LongHistogram>? _mine;

    private readonly List<LongHistogram> _all = new();

    /// <summary>Records the time from <paramref name="intendedTimestamp"/> to now.</summary>
    public void Record(long intendedTimestamp, long now)
    {
        var mine = _mine ??= new Dictionary<LatencyRecorder, LongHistogram>(ReferenceEqualityComparer.Instance);
        if (!mine.TryGetValue(this, out var histogram))
        {
            histogram = new LongHistogram(Highest, 3);
            lock (_all) _all.Add(histogram);
            mine[this] = histogram;
        }
        var micros = (long)((now - intendedTimestamp) * MicrosPerTick);
        histogram.RecordValue(Math.Clamp(micros, 1, Highest));
    }

    /// <summary>All threads' histograms merged (call once the recording threads are done).</summary>
    public LongHistogram Merge()
    {
        var merged = new LongHistogram(Highest, 3);
        lock (_all)
            foreach (var histogram in _all) merged.Add(histogram);
        return merged;
    }
}
