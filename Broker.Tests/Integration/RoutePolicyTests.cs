using System.Text.Json.Nodes;
using Broker.Tests.Infrastructure;
using Xunit;

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
}
