namespace Broker.Tests.Integration;

/// <summary>The presence keys (PROTOCOL §9.3) through the real host: bad values refused at start-up, the threshold applied.</summary>
public sealed class PresenceConfigurationTests
{
    [Theory]
    [InlineData("Broker:Rooms:Presence", "names", "Broker:Rooms:Presence")]
    [InlineData("Broker:Rooms:Presence", "", "Broker:Rooms:Presence")]
    [InlineData("Broker:Rooms:MaxPresenceMembers", "0", "Broker:Rooms:MaxPresenceMembers")]
    [InlineData("Broker:Rooms:Namespaces:big:Presence", "count", "Broker:Rooms:Namespaces:big:Presence")]
    public async Task A_bad_presence_setting_is_refused_at_start_up_naming_the_key(string key, string value, string named)
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var host = await BrokerTestHost.StartAsync(new Dictionary<string, string?> { [key] = value });
        });
        Assert.Contains(named, error.ToString());
    }

    [Fact]
    public async Task A_full_room_past_MaxPresenceMembers_answers_with_the_count_only_and_lists_again_below_it()
    {
        await using var host = await BrokerTestHost.StartAsync(new Dictionary<string, string?> { ["Broker:Rooms:MaxPresenceMembers"] = "2" });
        var room = $"threshold-{Guid.NewGuid():N}";
        await using var alice = await host.ConnectAuthenticatedAsync("alice", autoPong: true);
        await using var bob = await host.ConnectAuthenticatedAsync("bob", autoPong: true);
        await using var carol = await host.ConnectAuthenticatedAsync("carol", autoPong: true);
        await alice.JoinAsync(room);
        Assert.Equal(["alice", "bob"], (await bob.JoinAsync(room)).Strings("members"));
        await alice.ReceiveAsync("presence");

        var carolJoined = await carol.JoinAsync(room);
        Assert.False(carolJoined.TryGetProperty("members", out _));
        Assert.Equal(3, carolJoined.Long("count"));
        // The others hear a count, not carol's presence.
        var next = await alice.ReceiveMatchingAsync(f => f.Type() is "presence" or "occupancy");
        Assert.Equal(("occupancy", 3L), (next.Type(), next.Data().Long("count")));

        // Two leave: one user is below the threshold, and a join is listed again.
        await bob.SendAsync(new { type = "leave", id = "l", data = new { room } });
        await bob.ReceiveAsync("left", "l");
        await carol.SendAsync(new { type = "leave", id = "l", data = new { room } });
        await carol.ReceiveAsync("left", "l");
        var back = await bob.JoinAsync(room);
        Assert.Equal(["alice", "bob"], back.Strings("members").Order());
        Assert.Equal(2, back.Long("count"));
    }
}
