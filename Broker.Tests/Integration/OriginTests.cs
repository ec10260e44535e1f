using System.Net;

namespace Broker.Tests.Integration;

/// <summary>PROTOCOL §2: a handshake whose Origin is present and not allowed by the route gets 403.</summary>
[Collection(SharedHostCollection.Name)]
public sealed class OriginTests(SharedHostFixture fixture)
{
    private BrokerTestHost Host => fixture.Host;

    [Fact]
    public async Task Origin_not_in_the_routes_allowed_list_is_refused_with_403()
    {
        var status = await TestClient.ConnectExpectingRefusalAsync(Host.WebSocketUri(SharedHostFixture.GuardedRoute), origin: "https://evil.example");
        Assert.Equal(HttpStatusCode.Forbidden, status);
    }

    [Fact]
    public async Task Origin_in_the_routes_allowed_list_connects()
    {
        await using var client = await TestClient.ConnectAsync(Host.WebSocketUri(SharedHostFixture.GuardedRoute), origin: SharedHostFixture.GoodOrigin);
        await client.AuthenticateAsync(TestTokens.Valid("good-origin"));
    }

    [Fact]
    public async Task No_origin_header_connects_to_a_route_with_an_allowed_list()
    {
        await using var client = await TestClient.ConnectAsync(Host.WebSocketUri(SharedHostFixture.GuardedRoute));
        await client.AuthenticateAsync(TestTokens.Valid("no-origin"));
    }

    [Fact]
    public async Task Same_host_origin_connects_when_the_allowed_list_is_empty()
    {
        await using var client = await TestClient.ConnectAsync(Host.WebSocketUri("chat"), origin: $"http://{Host.Authority}");
        await client.AuthenticateAsync(TestTokens.Valid("same-host"));
    }

    [Theory]
    [InlineData("http://other.example")]
    [InlineData("https://evil.example")]
    public async Task Other_host_origin_is_refused_with_403_when_the_allowed_list_is_empty(string origin)
    {
        var status = await TestClient.ConnectExpectingRefusalAsync(Host.WebSocketUri("chat"), origin);
        Assert.Equal(HttpStatusCode.Forbidden, status);
    }
}
