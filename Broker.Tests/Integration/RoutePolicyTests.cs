namespace Broker.Tests.Integration;

/// <summary>Per-route policy: anonymous routes and receive-only routes.</summary>
[Collection(SharedHostCollection.Name)]
public sealed class RoutePolicyTests(SharedHostFixture fixture)
{
    private BrokerTestHost Host => fixture.Host;

    [Fact]
    public async Task Anonymous_route_welcomes_without_auth_as_anon_connection_id()
    {
        await using var client = await TestClient.ConnectAsync(Host.WebSocketUri(SharedHostFixture.AnonymousRoute));

        var welcome = await client.ReceiveAsync();

        Assert.Equal("welcome", welcome.Type());
        var data = welcome.Data();
        Assert.Equal("anon-" + data.GetProperty("connection").GetString(), data.GetProperty("user").GetString());
        await client.PingPongAsync();
    }

    [Fact]
    public async Task Receive_only_route_answers_publish_with_forbidden()
    {
        await using var client = await Host.ConnectAuthenticatedAsync("reader", route: "notifications");

        await client.SendAsync("publish", "pub-1", new JsonObject { ["payload"] = "hello" });

        var error = await client.ReceiveAsync();
        Assert.Equal("forbidden", error.ErrorCode());
        Assert.Equal("pub-1", error.Id());
        await client.PingPongAsync();
    }

    [Fact]
    public async Task Route_wide_broadcast_is_forbidden_on_a_route_that_did_not_opt_in_and_reaches_nobody()
    {
        await using var sender = await TestClient.ConnectAsync(Host.WebSocketUri(SharedHostFixture.AnonymousRoute));
        await using var other = await TestClient.ConnectAsync(Host.WebSocketUri(SharedHostFixture.AnonymousRoute));
        Assert.Equal("welcome", (await sender.ReceiveAsync()).Type());
        Assert.Equal("welcome", (await other.ReceiveAsync()).Type());

        await sender.SendAsync("publish", "everyone-1", new JsonObject { ["payload"] = "spam" });

        var error = await sender.ReceiveAsync();
        Assert.Equal("forbidden", error.ErrorCode());
        Assert.Equal("everyone-1", error.Id());
        // The next frame the other connection gets is the pong to its ping: the broadcast went nowhere.
        await other.SendAsync("ping", "after");
        var next = await other.ReceiveAsync();
        Assert.Equal("pong", next.Type());
        await sender.PingPongAsync();
    }
}
