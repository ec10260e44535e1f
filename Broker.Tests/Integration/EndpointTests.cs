using System.Net;

namespace Broker.Tests.Integration;

/// <summary>PROTOCOL §1: what each HTTP endpoint answers before any WebSocket traffic.</summary>
[Collection(SharedHostCollection.Name)]
public sealed class EndpointTests(SharedHostFixture fixture)
{
    private BrokerTestHost Host => fixture.Host;

    [Fact]
    public async Task Unknown_route_is_refused_with_404_before_the_upgrade()
    {
        var status = await TestClient.ConnectExpectingRefusalAsync(Host.WebSocketUri("no-such-route"));
        Assert.Equal(HttpStatusCode.NotFound, status);
    }

    [Fact]
    public async Task Plain_get_on_a_websocket_route_is_400()
    {
        using var response = await Host.Http.GetAsync("ws/chat");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task Plain_get_on_an_unknown_route_is_404()
    {
        using var response = await Host.Http.GetAsync("ws/no-such-route");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Theory]
    [InlineData("health/live")]
    [InlineData("health/ready")]
    public async Task Health_endpoints_answer_200_while_serving(string path)
    {
        using var response = await Host.Http.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Dev_token_endpoint_is_404_outside_development()
    {
        using var response = await Host.Http.PostAsync("auth/dev-token?user=alice", null);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }
}
