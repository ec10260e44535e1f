namespace Broker.Tests.Cluster;

/// <summary>
/// A node dies mid-conversation. Its clients reconnect to a survivor and recover with
/// <c>since</c>; rooms it hosted come back on survivors with a new epoch (history was in memory).
/// </summary>
[Trait("Category", "Cluster")]
public sealed class NodeFailureTests : NodeLossTest
{
    [Fact]
    public async Task Clients_of_a_crashed_node_recover_every_missed_message_on_a_survivor()
    {
        // A room that lives on a node that will survive, and one that lives on the victim.
        var watcher = await TestClient.ConnectAuthenticatedAsync(Seed.WebSocketUri(), TestTokens.Valid("watcher"), autoPong: true);
        var safeRoom = await RoomHostedWhere(watcher, host => host != Victim);
        var doomedRoom = await RoomHostedWhere(watcher, host => host == Victim);

        var traveller = await TestClient.ConnectAuthenticatedAsync(Victim.WebSocketUri(), TestTokens.Valid("traveller"), autoPong: true);
        await traveller.SendAsync(new { type = "join", data = new { room = safeRoom } });
        await traveller.ReceiveAsync("joined");

        for (var n = 1; n <= 10; n++)
            await watcher.SendAsync(new { type = "publish", data = new { room = safeRoom, payload = n } });
        for (var n = 1; n <= 5; n++)
            await watcher.SendAsync(new { type = "publish", data = new { room = doomedRoom, payload = n } });
        JsonElement last = default;
        for (var n = 1; n <= 10; n++) last = (await traveller.ReceiveAsync("message")).GetProperty("data");
        var epoch = last.GetProperty("epoch").GetString()!;
        Assert.Equal(10, last.GetProperty("offset").GetInt64());
        JsonElement doomedLast = default;
        while (doomedLast.ValueKind == JsonValueKind.Undefined || doomedLast.GetProperty("offset").GetInt64() < 5)
        {
            var data = (await watcher.ReceiveAsync("message")).GetProperty("data");
            if (data.GetProperty("room").GetString() == doomedRoom) doomedLast = data;
        }

        await Victim.CrashAsync();
        Assert.NotEqual(1000, (await traveller.ExpectCloseAsync()).Status);

        // While the traveller is away, the room goes on.
        for (var n = 11; n <= 20; n++)
            await watcher.SendAsync(new { type = "publish", id = $"p{n}", data = new { room = safeRoom, payload = n } });

        // Reconnect to a survivor and recover from offset 10.
        var back = await TestClient.ConnectAuthenticatedAsync(Survivor.WebSocketUri(), TestTokens.Valid("traveller"), autoPong: true);
        await back.SendAsync(new { type = "join", id = "rejoin", data = new { room = safeRoom, since = new { epoch, offset = 10 } } });
        var missed = new List<long>();
        JsonElement frame;
        while ((frame = await back.ReceiveAsync()).GetProperty("type").GetString() != "joined")
        {
            Assert.Equal("message", frame.GetProperty("type").GetString());
            missed.Add(frame.GetProperty("data").GetProperty("offset").GetInt64());
        }
        Assert.Equal(Enumerable.Range(11, 10).Select(o => (long)o), missed);
        var joined = frame.GetProperty("data");
        Assert.True(joined.GetProperty("recovered").GetBoolean());
        Assert.Equal(epoch, joined.GetProperty("epoch").GetString());

        // The survivors down the victim (split brain resolver), then re-home its rooms.
        await Eventually.TrueAsync(() => Seed.UpMembers() == 2 && Seed.UnreachableMembers() == 0, TimeSpan.FromSeconds(60), "victim downed");

        // The room the victim hosted is back on a survivor, honestly: a new epoch, nothing recovered.
        await watcher.SendAsync(new { type = "join", id = "doomed", data = new { room = doomedRoom, since = new { epoch = doomedLast.GetProperty("epoch").GetString(), offset = 5 } } });
        // The join waits in the shard region until the victim is downed and the room re-homed.
        var reborn = (await watcher.ReceiveAsync("joined", timeout: TimeSpan.FromSeconds(60))).GetProperty("data");
        Assert.NotEqual(doomedLast.GetProperty("epoch").GetString(), reborn.GetProperty("epoch").GetString());
        Assert.False(reborn.GetProperty("recovered").GetBoolean());
        Assert.True(await Survivor.HostsRoomAsync(doomedRoom) || await Seed.HostsRoomAsync(doomedRoom));

        await back.DisposeAsync();
        await watcher.DisposeAsync();
        await traveller.DisposeAsync();
    }

    private async Task<string> RoomHostedWhere(TestClient member, Func<ClusterNode, bool> wanted)
    {
        var room = await Cluster.NewRoomHostedWhereAsync(wanted);
        await member.SendAsync(new { type = "join", data = new { room } });
        await member.ReceiveAsync("joined");
        return room;
    }
}
