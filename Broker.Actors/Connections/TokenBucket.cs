namespace Broker.Actors.Connections;

/// <summary>
/// A classic token bucket: <c>capacity</c> tokens, refilled at <c>ratePerSecond</c>. Plain state
/// on one clock: every reading comes from the <see cref="TimeProvider"/> it was made with, and
/// elapsed time is converted by that same provider, so no caller can mix timestamp units (the
/// bug of issue #14: Stopwatch ticks at the start, TimeSpan ticks afterwards, never a refill).
/// </summary>
public sealed class TokenBucket
{
    private readonly TimeProvider _clock;
    private readonly double _capacity;
    private readonly double _ratePerSecond;
    private double _tokens;
    private long _last; // a timestamp of _clock

    /// <param name="ratePerSecond">Refill rate.</param>
    /// <param name="capacity">Burst size; the bucket starts full.</param>
    /// <param name="clock">The clock; its monotonic timestamps (<see cref="TimeProvider.GetTimestamp"/>) measure the refill.</param>
    public TokenBucket(double ratePerSecond, double capacity, TimeProvider clock)
    {
        if (ratePerSecond <= 0) throw new ArgumentOutOfRangeException(nameof(ratePerSecond));
        if (capacity < 1) throw new ArgumentOutOfRangeException(nameof(capacity));
        ArgumentNullException.ThrowIfNull(clock);
        _clock = clock;
        _capacity = capacity;
        _ratePerSecond = ratePerSecond;
        _tokens = capacity;
        _last = clock.GetTimestamp();
    }

    /// <summary>Takes one token if there is one, after adding what the time since the last call refilled.</summary>
    public bool TryTake()
    {
        var now = _clock.GetTimestamp();
        if (now > _last)
        {
            _tokens = Math.Min(_capacity, _tokens + _clock.GetElapsedTime(_last, now).TotalSeconds * _ratePerSecond);
            _last = now;
        }
        if (_tokens < 1) return false;
        _tokens -= 1;
        return true;
    }
}
