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
/// a client sending at more than twice its allowance once its burst is spent. The bucket and the
/// one-second window read the same <see cref="TimeProvider"/>, so a client under the rate on
/// average is never limited however long it stays (§9.1).
/// </summary>
public sealed class InboundRateLimiter
{
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(1);

    private readonly TimeProvider _clock;
    private readonly TokenBucket _bucket;
    private readonly int _maxRejectsPerWindow;
    private long _windowStart; // a timestamp of _clock
    private int _rejectsInWindow;

    public InboundRateLimiter(int ratePerSecond, int burst, TimeProvider clock)
    {
        _clock = clock;
        _bucket = new TokenBucket(ratePerSecond, Math.Max(burst, 1), clock);
        _maxRejectsPerWindow = ratePerSecond;
        _windowStart = clock.GetTimestamp();
    }

    /// <summary>Decides about one frame arriving now.</summary>
    public RateDecision Check()
    {
        if (_bucket.TryTake()) return RateDecision.Allow;
        var now = _clock.GetTimestamp();
        if (_clock.GetElapsedTime(_windowStart, now) >= Window)
        {
            _windowStart = now;
            _rejectsInWindow = 0;
        }
        return ++_rejectsInWindow > _maxRejectsPerWindow ? RateDecision.Flooding : RateDecision.Reject;
    }
}
