using Broker.Actors.Rooms;

namespace Broker.Tests.Rooms;

/// <summary>The presence state machine alone (PROTOCOL §9.3): the threshold rule and the coalescing of counts.</summary>
public sealed class PresencePolicyTests
{
    [Fact]
    public void Full_room_switches_to_counts_above_the_threshold_and_back_only_below_it()
    {
        var policy = new PresencePolicy(PresenceMode.Full, maxPresenceMembers: 3);
        for (var users = 1; users <= 3; users++) Assert.False(policy.Observe(users));
        Assert.Equal(PresenceMode.Full, policy.Effective);
        Assert.True(policy.ListsMembers);

        Assert.True(policy.Observe(4));
        Assert.Equal(PresenceMode.Counts, policy.Effective);
        Assert.False(policy.ListsMembers);
        Assert.False(policy.Observe(5));
        // At the threshold it stays as it is: one user coming and going there switches nothing.
        Assert.False(policy.Observe(3));
        Assert.Equal(PresenceMode.Counts, policy.Effective);
        Assert.False(policy.Observe(4));
        Assert.False(policy.Observe(3));

        Assert.True(policy.Observe(2));
        Assert.Equal(PresenceMode.Full, policy.Effective);
        Assert.False(policy.Observe(3));
        Assert.Equal(PresenceMode.Full, policy.Effective);
        Assert.True(policy.Observe(4));
    }

    [Theory]
    [InlineData(PresenceMode.Counts)]
    [InlineData(PresenceMode.Off)]
    public void Counts_and_off_rooms_never_switch(PresenceMode mode)
    {
        var policy = new PresencePolicy(mode, maxPresenceMembers: 2);
        foreach (var users in new[] { 1, 5, 100, 1, 0 }) Assert.False(policy.Observe(users));
        Assert.Equal(mode, policy.Effective);
        Assert.False(policy.ListsMembers);
    }

    [Fact]
    public void First_change_is_announced_at_once_and_the_rest_of_the_interval_at_its_end()
    {
        var policy = new PresencePolicy(PresenceMode.Counts, 1000);
        Assert.Equal(1, policy.CountChanged(1, out var started));
        Assert.True(started);
        Assert.Null(policy.CountChanged(2, out started));
        Assert.False(started);
        Assert.Null(policy.CountChanged(3, out _));

        Assert.Equal(3, policy.EndInterval(3));
        Assert.True(policy.IntervalOpen); // an announcement opens the next interval
        Assert.Null(policy.EndInterval(3)); // nothing changed in it: the room goes quiet
        Assert.False(policy.IntervalOpen);
    }

    [Fact]
    public void Changes_that_cancel_out_inside_an_interval_announce_nothing()
    {
        var policy = new PresencePolicy(PresenceMode.Counts, 1000);
        Assert.Equal(5, policy.CountChanged(5, out _));
        Assert.Null(policy.CountChanged(6, out _));
        Assert.Null(policy.CountChanged(5, out _));
        Assert.Null(policy.EndInterval(5));
        Assert.False(policy.IntervalOpen);
        // Quiet again: the next change goes out at once.
        Assert.Equal(4, policy.CountChanged(4, out var started));
        Assert.True(started);
    }
}
