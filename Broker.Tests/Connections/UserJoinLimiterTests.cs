using Broker.Actors.Connections;

namespace Broker.Tests.Connections;

/// <summary><see cref="UserJoinLimiter"/>: one bucket per user across its connections, refilled by the clock, forgotten when idle.</summary>
public sealed class UserJoinLimiterTests
{
    [Fact]
    public void A_user_gets_its_burst_then_the_rate_and_other_users_are_not_affected()
    {
        var clock = new ManualTimeProvider();
        var limiter = new UserJoinLimiter(ratePerSecond: 2, burst: 5, clock);

        for (var i = 0; i < 5; i++) Assert.True(limiter.TryJoin("churner"));
        Assert.False(limiter.TryJoin("churner"));
        Assert.True(limiter.TryJoin("bystander"));

        // Many periods: two joins a second keep being allowed, a third is not.
        for (var second = 0; second < 60; second++)
        {
            clock.Advance(TimeSpan.FromSeconds(1));
            Assert.True(limiter.TryJoin("churner"));
            Assert.True(limiter.TryJoin("churner"));
            Assert.False(limiter.TryJoin("churner"));
        }
    }

    [Fact]
    public void Users_that_stopped_joining_are_forgotten_so_the_table_stays_small()
    {
        var clock = new ManualTimeProvider();
        var limiter = new UserJoinLimiter(ratePerSecond: 10, burst: 10, clock); // refills in 1 s
        for (var round = 0; round < 50; round++)
        {
            for (var i = 0; i < 100; i++) limiter.TryJoin($"user-{round}-{i}");
            clock.Advance(TimeSpan.FromSeconds(1.5));
        }
        limiter.TryJoin("last");
        Assert.InRange(limiter.TrackedUsers, 1, 101);
    }
}
