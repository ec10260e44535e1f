using Broker.Actors.Rooms;

namespace Broker.Tests.Rooms;

/// <summary><see cref="PresenceThrottle"/> alone: what a room announces now, what it holds, and what a window's end gives.</summary>
public sealed class PresenceThrottleTests
{
    private static PresenceChange Join(string user, string? connection = null) => new(user, Joined: true, connection ?? "c-" + user);
    private static PresenceChange Leave(string user) => new(user, Joined: false, null);

    [Fact]
    public void Changes_up_to_the_burst_are_announced_at_once_and_the_first_opens_the_window()
    {
        var throttle = new PresenceThrottle(burst: 3);

        Assert.True(throttle.Offer(Join("a"), out var started));
        Assert.True(started);
        Assert.True(throttle.Offer(Join("b"), out started));
        Assert.False(started);
        Assert.True(throttle.Offer(Leave("a"), out _));
        Assert.False(throttle.Offer(Join("c"), out _));
        Assert.Equal(1, throttle.HeldCount);
    }

    [Fact]
    public void A_join_and_leave_of_the_same_user_inside_a_window_cancel_out()
    {
        var throttle = new PresenceThrottle(burst: 1);
        Assert.True(throttle.Offer(Join("first"), out _));
        for (var i = 0; i < 100; i++)
        {
            Assert.False(throttle.Offer(Join("churner"), out _));
            Assert.False(throttle.Offer(Leave("churner"), out _));
        }
        Assert.False(throttle.Offer(Leave("leaver"), out _));
        Assert.False(throttle.Offer(Join("leaver"), out _));

        var due = new List<PresenceChange>();
        throttle.EndWindow(due, out var countInstead);

        Assert.False(countInstead);
        Assert.Empty(due);
        Assert.False(throttle.WindowOpen); // nothing announced at the end: the room is quiet again
    }

    [Fact]
    public void Net_changes_are_announced_at_the_window_end_in_first_change_order_with_the_last_joiner_excluded()
    {
        var throttle = new PresenceThrottle(burst: 2);
        throttle.Offer(Join("a"), out _);
        throttle.Offer(Join("b"), out _);
        throttle.Offer(Join("c", "c-1"), out _);
        throttle.Offer(Leave("b"), out _);
        throttle.Offer(Leave("c"), out _);
        throttle.Offer(Join("c", "c-2"), out _);

        var due = new List<PresenceChange>();
        throttle.EndWindow(due, out var countInstead);

        Assert.False(countInstead);
        Assert.Equal([new PresenceChange("c", true, "c-2"), new PresenceChange("b", false, null)], due);
        // What the window's end announced counts against the next window, which stays open.
        Assert.True(throttle.WindowOpen);
        Assert.False(throttle.Offer(Join("d"), out _));
    }

    [Fact]
    public void More_net_changes_than_the_burst_become_one_count()
    {
        var throttle = new PresenceThrottle(burst: 5);
        for (var i = 0; i < 50; i++) throttle.Offer(Join("u" + i), out _);

        var due = new List<PresenceChange>();
        throttle.EndWindow(due, out var countInstead);

        Assert.True(countInstead);
        Assert.Empty(due);
        Assert.True(throttle.WindowOpen);
    }

    [Fact]
    public void Over_many_windows_of_a_storm_at_most_burst_frames_go_out_per_window()
    {
        const int burst = 10;
        var throttle = new PresenceThrottle(burst);
        var due = new List<PresenceChange>();
        var random = new Random(15);
        var fromLastWindowEnd = 0;
        for (var window = 0; window < 200; window++)
        {
            // One window's frames: what the previous window's end announced, then what goes out at once.
            var frames = fromLastWindowEnd;
            var offers = random.Next(0, 500);
            for (var i = 0; i < offers; i++)
            {
                var user = "u" + random.Next(0, 40);
                if (throttle.Offer(random.Next(2) == 0 ? Join(user) : Leave(user), out _)) frames++;
            }
            Assert.InRange(frames, 0, burst);
            throttle.EndWindow(due, out var countInstead);
            fromLastWindowEnd = countInstead ? 1 : due.Count;
        }
    }
}
