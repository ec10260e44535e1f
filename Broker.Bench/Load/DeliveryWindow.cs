namespace Broker.Bench.Load;

/// <summary>
/// Bounds the broadcasts in flight for the throughput phase: a publisher may send #s only once
/// every subscriber has received #(s − size). Saturates the server without overflowing any
/// bounded queue (which would cut subscribers off and measure the slow-consumer rule instead).
/// Completions arrive in sequence order (each subscriber receives in order), so one number per
/// publisher says how far everyone has got.
/// </summary>
public sealed class DeliveryWindow
{
    private readonly int _members;
    private readonly int _size;
    private readonly int[][] _counts;
    private readonly long[] _completed;
    private readonly SemaphoreSlim[] _signals;

    public DeliveryWindow(int members, int size, IReadOnlyList<long> lastSent)
    {
        _members = members;
        _size = size;
        _counts = new int[lastSent.Count][];
        _completed = new long[lastSent.Count];
        _signals = new SemaphoreSlim[lastSent.Count];
        for (var p = 0; p < lastSent.Count; p++)
        {
            _counts[p] = new int[size];
            _completed[p] = lastSent[p];
            _signals[p] = new SemaphoreSlim(0);
        }
    }

    /// <summary>A subscriber received #<paramref name="sequence"/> of <paramref name="publisher"/>.</summary>
    public void Delivered(int publisher, long sequence)
    {
        if (sequence <= Volatile.Read(ref _completed[publisher])) return; // sent before the window opened
        ref var count = ref _counts[publisher][sequence % _size];
        if (Interlocked.Increment(ref count) != _members) return;
        Volatile.Write(ref count, 0);
        Volatile.Write(ref _completed[publisher], sequence);
        _signals[publisher].Release();
    }

    /// <summary>Waits until <paramref name="publisher"/> may send #<paramref name="sequence"/>.</summary>
    public async Task WaitAsync(int publisher, long sequence, CancellationToken cancellationToken)
    {
        while (Volatile.Read(ref _completed[publisher]) < sequence - _size)
            await _signals[publisher].WaitAsync(TimeSpan.FromMilliseconds(20), cancellationToken);
    }
}
