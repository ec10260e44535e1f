namespace Broker.Actors.Connections;

/// <summary>
/// A classic token bucket: <c>capacity</c> tokens, refilled at <c>ratePerSecond</c>. Pure state:
/// the caller passes the time, so tests need no clock.
/// </summary>
public sealed class TokenBucket
{
    private readonly double _capacity;
    private readonly double _ratePerTick;
    private double _tokens;
    private long _lastTicks;

    /// <param name="ratePerSecond">Refill rate.</param>
    /// <param name="capacity">Burst size; the bucket starts full.</param>
    /// <param name="nowTicks">Current time in <see cref="TimeSpan"/> ticks.</param>
    public TokenBucket(double ratePerSecond, double capacity, long nowTicks)
    {
        if (ratePerSecond <= 0) throw new ArgumentOutOfRangeException(nameof(ratePerSecond));
        if (capacity < 1) throw new ArgumentOutOfRangeException(nameof(capacity));
        _capacity = capacity;
        _ratePerTick = ratePerSecond / TimeSpan.TicksPerSecond;
        _tokens = capacity;
        _lastTicks = nowTicks;
    }

    /// <summary>Takes one token if there is one.</summary>
    public bool TryTake(long nowTicks)
    {
        if (nowTicks > _lastTicks)
        {
            _tokens = Math.Min(_capacity, _tokens + (nowTicks - _lastTicks) * _ratePerTick);
            _lastTicks = nowTicks;
        }
        if (_tokens < 1) return false;
        _tokens -= 1;
        return true;
    }
}
