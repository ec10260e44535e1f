using Broker.Actors.Connections;
using Xunit;

namespace Broker.Tests.Connections;

/// <summary>
/// <see cref="InboundRateLimiter"/> (PROTOCOL §6): over the rate a frame is rejected
/// (<c>rate_limited</c>); more rejects within one second than the per-second rate is flooding (close 1008).
/// </summary>
public sealed class InboundRateLimiterTests
{
    private const long T0 = 5_000_000_000;
    private static long Ms(double ms) => T0 + (long)(ms * TimeSpan.TicksPerMillisecond);

    [Fact]
    public void Burst_is_allowed_then_frames_are_rejected()
    {
        var limiter = new InboundRateLimiter(ratePerSecond: 10, burst: 20, T0);

        for (var i = 0; i < 20; i++) Assert.Equal(RateDecision.Allow, limiter.Check(T0));
        Assert.Equal(RateDecision.Reject, limiter.Check(T0));
    }

    [Fact]
    public void Refill_allows_frames_again_at_the_rate()
    {
        var limiter = new InboundRateLimiter(ratePerSecond: 10, burst: 20, T0);
        for (var i = 0; i < 20; i++) limiter.Check(T0);
        Assert.Equal(RateDecision.Reject, limiter.Check(T0));

        Assert.Equal(RateDecision.Allow, limiter.Check(Ms(100)));
        Assert.Equal(RateDecision.Reject, limiter.Check(Ms(101)));
    }

    [Fact]
    public void Flooding_once_rejects_within_one_second_exceed_the_rate()
    {
        var limiter = new InboundRateLimiter(ratePerSecond: 10, burst: 20, T0);
        for (var i = 0; i < 20; i++) limiter.Check(T0);

        for (var i = 0; i < 10; i++)
            Assert.Equal(RateDecision.Reject, limiter.Check(Ms(1)));

        Assert.Equal(RateDecision.Flooding, limiter.Check(Ms(2)));
    }

    [Fact]
    public void Client_below_twice_the_rate_is_limited_but_never_flooding()
    {
        var limiter = new InboundRateLimiter(ratePerSecond: 10, burst: 1, T0);
        var rejects = 0;

        // ~18 frames/s against 10/s: about 8 rejects per second, never more than the rate.
        for (var i = 0; i < 1000; i++)
        {
            var decision = limiter.Check(Ms(i * 55));
            Assert.NotEqual(RateDecision.Flooding, decision);
            if (decision == RateDecision.Reject) rejects++;
        }
        Assert.InRange(rejects, 400, 500);
    }

    [Fact]
    public void Client_at_the_allowed_rate_is_never_limited()
    {
        var limiter = new InboundRateLimiter(ratePerSecond: 100, burst: 200, T0);

        for (var i = 0; i < 10_000; i++)
            Assert.Equal(RateDecision.Allow, limiter.Check(Ms(i * 10)));
    }

    [Fact]
    public void Client_at_three_times_the_rate_is_flooding_within_a_few_seconds()
    {
        var limiter = new InboundRateLimiter(ratePerSecond: 100, burst: 200, T0);
        var decision = RateDecision.Allow;
        var frame = 0;
        for (; frame < 3000 && decision != RateDecision.Flooding; frame++)
            decision = limiter.Check(Ms(frame * (10.0 / 3)));

        Assert.Equal(RateDecision.Flooding, decision);
        Assert.InRange(frame * (10.0 / 3), 0, 4000); // flagged within 4 s of the flood starting
    }

    [Fact]
    public void Zero_burst_still_allows_one_frame()
    {
        var limiter = new InboundRateLimiter(ratePerSecond: 10, burst: 0, T0);

        Assert.Equal(RateDecision.Allow, limiter.Check(T0));
        Assert.Equal(RateDecision.Reject, limiter.Check(T0));
    }
}
