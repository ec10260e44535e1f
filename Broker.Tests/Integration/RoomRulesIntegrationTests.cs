using Broker.Actors.Rooms;
using Broker.Tests.Cluster;
using Broker.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

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
        var (guest, _) = await WsClient.ConnectAsync(host.WebSocketUri("chat"), TestTokens.Valid("guest"));
        var (staff, _) = await WsClient.ConnectAsync(host.WebSocketUri("chat"), TestTokens.Valid("ann@staff"));

        await guest.SendAsync(new { type = "join", id = "g", data = new { room = "staff.desk" } });
        var refused = await guest.NextAnyAsync();
        Assert.Equal("error", refused.GetProperty("type").GetString());
        Assert.Equal("forbidden", refused.GetProperty("data").GetProperty("code").GetString());

        await staff.SendAsync(new { type = "join", id = "s", data = new { room = "staff.desk" } });
        var joined = await staff.NextAsync("joined");
        Assert.Equal(["ann@staff"], joined.GetProperty("data").GetProperty("members").EnumerateArray().Select(m => m.GetString()));

        await guest.DisposeAsync();
        await staff.DisposeAsync();
    }
}
