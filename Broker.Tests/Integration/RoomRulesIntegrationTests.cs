using Broker.Actors.Rooms;
using Microsoft.Extensions.DependencyInjection;

namespace Broker.Tests.Integration;

/// <summary>An app registers its own <see cref="IRoomAuthorizer"/> after AddBroker and the real host enforces it.</summary>
public sealed class RoomRulesIntegrationTests
{
    private sealed class StaffOnlyRooms : IRoomAuthorizer
    {
        public ValueTask<bool> MayJoinAsync(string userId, string room, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(!room.StartsWith("staff.", StringComparison.Ordinal) || userId.EndsWith("@staff", StringComparison.Ordinal));

        public ValueTask<bool> MayPublishAsync(string userId, string room, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(true);
    }

    [Fact]
    public async Task The_apps_room_rules_decide_who_joins()
    {
        await using var host = await BrokerTestHost.StartAsync(services: s => s.AddSingleton<IRoomAuthorizer, StaffOnlyRooms>());
        var guest = await TestClient.ConnectAuthenticatedAsync(host.WebSocketUri("chat"), TestTokens.Valid("guest"), autoPong: true);
        var staff = await TestClient.ConnectAuthenticatedAsync(host.WebSocketUri("chat"), TestTokens.Valid("ann@staff"), autoPong: true);

        await guest.SendAsync(new { type = "join", id = "g", data = new { room = "staff.desk" } });
        var refused = await guest.ReceiveAsync();
        Assert.Equal("error", refused.GetProperty("type").GetString());
        Assert.Equal("forbidden", refused.GetProperty("data").GetProperty("code").GetString());

        await staff.SendAsync(new { type = "join", id = "s", data = new { room = "staff.desk" } });
        var joined = await staff.ReceiveAsync("joined");
        Assert.Equal(["ann@staff"], joined.GetProperty("data").GetProperty("members").EnumerateArray().Select(m => m.GetString()));

        await guest.DisposeAsync();
        await staff.DisposeAsync();
    }

    /// <summary>Rules that take far too long on <c>slow.*</c> rooms (honouring cancellation), and answer at once elsewhere.</summary>
    private sealed class SlowOnSomeRooms : IRoomAuthorizer
    {
        public async ValueTask<bool> MayJoinAsync(string userId, string room, CancellationToken cancellationToken = default)
        {
            if (room.StartsWith("slow.", StringComparison.Ordinal)) await Task.Delay(TimeSpan.FromSeconds(30), cancellationToken);
            return true;
        }

        public ValueTask<bool> MayPublishAsync(string userId, string room, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(true);
    }

    [Fact]
    public async Task Slow_room_rules_cost_the_join_an_unavailable_not_the_connection_across_heartbeat_periods()
    {
        // The rules' budget (HandlerTimeout) spans several heartbeat periods: the client answers
        // every ping, but its pongs wait unread behind the held join.
        await using var host = await BrokerTestHost.StartAsync(
            settings: new Dictionary<string, string?>
            {
                ["Broker:Heartbeat:Interval"] = "00:00:00.200",
                ["Broker:Limits:HandlerTimeout"] = "00:00:01.200",
            },
            services: s => s.AddSingleton<IRoomAuthorizer, SlowOnSomeRooms>());
        await using var client = await host.ConnectAuthenticatedAsync("alice", autoPong: true);

        await client.SendAsync("join", "j1", new JsonObject { ["room"] = "slow.desk" });
        var unavailable = await client.ReceiveAsync("error", "j1");
        Assert.Equal("unavailable", unavailable.ErrorCode());

        await client.AssertStaysOpenAsync(TimeSpan.FromMilliseconds(600)); // three more periods
        await client.SendAsync("join", "j2", new JsonObject { ["room"] = "desk" });
        var joined = await client.ReceiveAsync("joined", "j2");
        Assert.Equal("desk", joined.Data().GetProperty("room").GetString());
    }
}
