using Broker.AspNetCore.Embedding;
using Microsoft.Extensions.DependencyInjection;

namespace Broker.Tests.Cluster;

/// <summary><see cref="IBrokerPublisher.BroadcastToRouteAsync"/> reaches the route's connections on every node, not only the publishing one.</summary>
[Trait("Category", "Cluster")]
public sealed class RouteBroadcastAcrossNodesTests(HealthyClusterFixture fixture) : IClassFixture<HealthyClusterFixture>
{
    private ClusterNode[] Nodes => fixture.Cluster.Nodes;

    [Fact]
    public async Task A_route_broadcast_from_one_node_reaches_that_route_on_every_node_in_publish_order()
    {
        var listeners = new List<TestClient>();
        for (var i = 0; i < 3; i++)
            listeners.Add(await TestClient.ConnectAuthenticatedAsync(Nodes[i].WebSocketUri("notifications"), TestTokens.Valid($"route-{i}"), autoPong: true));
        // Same node as a listener, other route: must get nothing.
        var bystander = await TestClient.ConnectAuthenticatedAsync(Nodes[1].WebSocketUri("chat"), TestTokens.Valid("route-chat"), autoPong: true);

        var publisher = Nodes[0].App.Services.GetRequiredService<IBrokerPublisher>();
        var first = await publisher.BroadcastToRouteAsync("notifications", new { n = 1 }).OrTimeout();
        await publisher.BroadcastToRouteAsync("notifications", new { n = 2 }).OrTimeout();
        Assert.Equal(1, first); // this node's offset: the route's first message here

        foreach (var listener in listeners)
        {
            // Each node numbers its route's messages itself; from one publisher they arrive in order.
            var one = (await listener.ReceiveAsync("message")).GetProperty("data");
            var two = (await listener.ReceiveAsync("message")).GetProperty("data");
            Assert.Equal(System.Text.Json.JsonValueKind.Null, one.GetProperty("room").ValueKind);
            Assert.Equal((1, 2), (one.GetProperty("payload").GetProperty("n").GetInt32(), two.GetProperty("payload").GetProperty("n").GetInt32()));
            Assert.Equal(one.GetProperty("offset").GetInt64() + 1, two.GetProperty("offset").GetInt64());
        }

        // The bystander's next frame answers its own ping: no route message came before it.
        await bystander.SendAsync(new { type = "ping", id = "after" });
        var next = await bystander.ReceiveAsync();
        Assert.Equal(("pong", "after"), (next.GetProperty("type").GetString(), next.GetProperty("id").GetString()));

        foreach (var client in listeners.Append(bystander)) await client.DisposeAsync();
    }
}
