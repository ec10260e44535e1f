namespace Broker.Tests.Cluster;

/// <summary>A node asked to stop (SIGTERM) closes its sockets with 1001, leaves, and hands its rooms off.</summary>
[Trait("Category", "Cluster")]
public sealed class GracefulLeaveTests : IAsyncLifetime
{
    private ThreeNodeCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await ThreeNodeCluster.StartAsync();
    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task A_leaving_node_closes_sockets_with_1001_and_its_rooms_keep_working_elsewhere()
    {
        var leaving = _cluster.Nodes[2];
        var staying = _cluster.Nodes[0];
        var onLeaving = await TestClient.ConnectAuthenticatedAsync(leaving.WebSocketUri(), TestTokens.Valid("leaver"), autoPong: true);
        await onLeaving.SendAsync(new { type = "join", data = new { room = "handoff" } });
        await onLeaving.ReceiveAsync("joined");
        await _cluster.HostOfAsync("handoff");

        var closed = onLeaving.Closed;
        await leaving.StopGracefullyAsync();
        Assert.Equal(1001, (await closed.OrTimeout()).Status);
        await Eventually.TrueAsync(() => _cluster.Nodes[0].UpMembers() == 2 && _cluster.Nodes[1].UpMembers() == 2,
            TimeSpan.FromSeconds(30), "survivors see two members");

        // The client reconnects elsewhere and the room answers there.
        var again = await TestClient.ConnectAuthenticatedAsync(staying.WebSocketUri(), TestTokens.Valid("leaver"), autoPong: true);
        await again.SendAsync(new { type = "join", data = new { room = "handoff" } });
        await again.ReceiveAsync("joined");
        await again.SendAsync(new { type = "publish", id = "after", data = new { room = "handoff", payload = "still here" } });
        var ack = await again.ReceiveAsync("ack");
        Assert.Equal("after", ack.GetProperty("id").GetString());
        Assert.False(await leaving.HostsRoomAsync("handoff"));
        await again.DisposeAsync();
        await onLeaving.DisposeAsync();
    }
}
