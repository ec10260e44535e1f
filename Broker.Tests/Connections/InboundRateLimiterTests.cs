using Broker.Actors.Connections;

namespace Broker.Tests.Connections;

/// <summary>
/// <see cref="InboundRateLimiter"/> (PROTOCOL §6, §9.1) on a clock the test moves: over the rate a
/// frame is rejected (<c>rate_limited</c>); more rejects within one second than the per-second
/// rate is flooding (close 1008); under the rate on average a client is never limited, over any
/// number of periods.
/// </summary>
public sealed class InboundRateLimiterTests
{
    private readonly ManualTimeProvider _clock = new();

    private void Advance(double ms) => _clock.Advance(TimeSpan.FromMilliseconds(ms));

    [Fact]
    public void Burst_is_allowed_then_frames_are_rejected()
    {
        var limiter = new InboundRateLimiter(ratePerSecond: 10, burst: 20, _clock);

        for (var i = 0; i < 20; i++) Assert.Equal(RateDecision.Allow, limiter.Check());
        Assert.Equal(RateDecision.Reject, limiter.Check());
    }

    [Fact]
    public void Refill_allows_frames_again_at_the_rate()
    {
        var limiter = new InboundRateLimiter(ratePerSecond: 10, burst: 20, _clock);
        for (var i = 0; i < 20; i++) limiter.Check();
        Assert.Equal(RateDecision.Reject, limiter.Check());

        Advance(100);
        Assert.Equal(RateDecision.Allow, limiter.Check());
        Advance(1);
        Assert.Equal(RateDecision.Reject, limiter.Check());
    }

    [Fact]
    public void Client_at_half_the_rate_for_a_hundred_times_its_burst_is_never_limited()
    {
        // Issue #14: the bucket never refilled, so this client was muted after its first burst.
        const int rate = 20, burst = 10;
        var limiter = new InboundRateLimiter(rate, burst, _clock);

        for (var i = 0; i < 100 * burst; i++)
        {
            Assert.True(limiter.Check() == RateDecision.Allow, $"frame {i + 1} was limited");
            Advance(2_000.0 / rate);
        }
    }

    [Fact]
    public void Client_at_the_allowed_rate_is_never_limited()
    {
        var limiter = new InboundRateLimiter(ratePerSecond: 100, burst: 200, _clock);

        for (var i = 0; i < 10_000; i++)
        {
            Assert.Equal(RateDecision.Allow, limiter.Check());
            Advance(10);
        }
    }

    [Fact]
    public void Client_that_spends_its_burst_recovers_after_a_pause_again_and_again()
    {
        var limiter = new InboundRateLimiter(ratePerSecond: 10, burst: 5, _clock);

        for (var period = 0; period < 100; period++)
        {
            for (var i = 0; i < 5; i++) Assert.True(limiter.Check() == RateDecision.Allow, $"period {period}, frame {i}");
            Assert.Equal(RateDecision.Reject, limiter.Check());
            Advance(500); // refills exactly the burst
        }
    }

    [Fact]
    public void Flood_is_rejected_then_flooding_once_rejects_within_one_second_exceed_the_rate()
    {
        var limiter = new InboundRateLimiter(ratePerSecond: 10, burst: 20, _clock);
        for (var i = 0; i < 20; i++) Assert.Equal(RateDecision.Allow, limiter.Check());

        Advance(1);
        for (var i = 0; i < 10; i++) Assert.Equal(RateDecision.Reject, limiter.Check());

        Advance(1);
        Assert.Equal(RateDecision.Flooding, limiter.Check());
    }

    [Fact]
    public void Client_below_twice_the_rate_is_limited_but_never_flooding()
    {
        var limiter = new InboundRateLimiter(ratePerSecond: 10, burst: 1, _clock);
        var rejects = 0;

        // ~18 frames/s against 10/s: about 8 rejects per second, never more than the rate.
        for (var i = 0; i < 1000; i++)
        {
            var decision = limiter.Check();
            Assert.NotEqual(RateDecision.Flooding, decision);
            if (decision == RateDecision.Reject) rejects++;
            Advance(55);
        }
        Assert.InRange(rejects, 400, 500);
    }

    [Fact]
    public void Client_at_three_times_the_rate_is_flooding_within_a_few_seconds()
    {
        var limiter = new InboundRateLimiter(ratePerSecond: 100, burst: 200, _clock);
        var decision = RateDecision.Allow;
        var frame = 0;
        for (; frame < 3000 && decision != RateDecision.Flooding; frame++)
        {
            decision = limiter.Check();
            Advance(10.0 / 3);
        }

        Assert.Equal(RateDecision.Flooding, decision);
        Assert.InRange(frame * (10.0 / 3), 0, 4000); // flagged within 4 s of the flood starting
    }

    [Fact]
    public void Zero_burst_still_allows_one_frame()
    {
        var limiter = new InboundRateLimiter(ratePerSecond: 10, burst: 0, _clock);

        Assert.Equal(RateDecision.Allow, limiter.Check());
        Assert.Equal(RateDecision.Reject, limiter.Check());
    }
}
