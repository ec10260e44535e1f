namespace Broker.Actors.Connections;

/// <summary>What the rate limiter decided about one inbound frame.</summary>
public enum RateDecision
{
    /// <summary>Within the limit: process it.</summary>
    Allow,
    /// <summary>Over the limit: drop it and answer <c>rate_limited</c>.</summary>
    Reject,
    /// <summary>Over the limit for long enough that the client is flooding: close 1008.</summary>
    Flooding,
}

/// <summary>
/// The inbound rate policy of PROTOCOL §6: a token bucket (rate, burst) per connection, and
/// "sustained" defined as more rejected frames within one second than the per-second rate, i.e.
/// a client sending at more than twice its allowance once its burst is spent. Pure state.
/// </summary>
public sealed class InboundRateLimiter
{
    private readonly TokenBucket _bucket;
    private readonly int _maxRejectsPerWindow;
    private long _windowStart;
    private int _rejectsInWindow;

    public InboundRateLimiter(int ratePerSecond, int burst, long nowTicks)
    {
        _bucket = new TokenBucket(ratePerSecond, Math.Max(burst, 1), nowTicks);
        _maxRejectsPerWindow = ratePerSecond;
        _windowStart = nowTicks;
    }

    public RateDecision Check(long nowTicks)
    {
        if (_bucket.TryTake(nowTicks)) return RateDecision.Allow;
        if (nowTicks - _windowStart >= TimeSpan.TicksPerSecond)
        {
            _windowStart = nowTicks;
            _rejectsInWindow = 0;
        }
        return ++_rejectsInWindow > _maxRejectsPerWindow ? RateDecision.Flooding : RateDecision.Reject;
    }
}
