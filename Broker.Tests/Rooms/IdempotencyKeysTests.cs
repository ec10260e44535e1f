using Broker.Actors.Rooms;

namespace Broker.Tests.Rooms;

/// <summary>The room's memory of publish keys (PROTOCOL §9.2): a window in time and a bound in count, oldest first.</summary>
public sealed class IdempotencyKeysTests
{
    [Fact]
    public void A_key_is_known_with_its_offset_until_its_window_ends()
    {
        var keys = new IdempotencyKeys(TimeSpan.FromSeconds(10), max: 100);
        keys.Add("a", 7, atMs: 1_000);
        Assert.True(keys.TryGet("a", 10_999, out var offset));
        Assert.Equal(7, offset);
        Assert.False(keys.TryGet("a", 11_000, out _));
        Assert.Equal(0, keys.Count);
    }

    [Fact]
    public void Past_the_bound_the_oldest_keys_are_forgotten_first()
    {
        var keys = new IdempotencyKeys(TimeSpan.FromMinutes(5), max: 3);
        for (var i = 1; i <= 5; i++) keys.Add("k" + i, i, atMs: i);
        Assert.Equal(3, keys.Count);
        Assert.False(keys.TryGet("k2", 10, out _));
        Assert.True(keys.TryGet("k3", 10, out var third));
        Assert.Equal(3, third);
        Assert.Equal(["k3", "k4", "k5"], keys.Entries().Select(e => e.Key));
    }

    [Fact]
    public void A_key_added_again_keeps_its_first_offset()
    {
        var keys = new IdempotencyKeys(TimeSpan.FromMinutes(5), max: 10);
        keys.Add("a", 1, atMs: 1);
        keys.Add("a", 2, atMs: 2);
        Assert.True(keys.TryGet("a", 3, out var offset));
        Assert.Equal(1, offset);
        Assert.Single(keys.Entries());
    }
}
