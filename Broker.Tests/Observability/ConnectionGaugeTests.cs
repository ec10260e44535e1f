using System.Net;
using System.Net.Http.Json;
using Broker.Contracts.Protocol;
using Broker.Tests.Integration;
using WireClient = Broker.Tests.Infrastructure.TestClient;

namespace Broker.Tests.Observability;

/// <summary>
/// A host of its own for the <c>broker_connections</c> gauge: an authenticated and an anonymous
/// route that only these tests use (the broker's meter is static: their series move only because
/// of them), an API key for the disconnect API, and a short auth deadline.
/// </summary>
public sealed class ConnectionGaugeHostFixture : IAsyncLifetime
{
    public const string ApiKey = "connection-gauge-api-key-0123456789";

    public string Route { get; } = "gauge-" + Guid.NewGuid().ToString("N")[..8];
    public string AnonymousRoute { get; } = "gauge-anon-" + Guid.NewGuid().ToString("N")[..8];
    public BrokerTestHost Host { get; private set; } = null!;

    public async Task InitializeAsync() => Host = await BrokerTestHost.StartAsync(new Dictionary<string, string?>
    {
        ["Broker:ApiKey"] = ApiKey,
        ["Broker:Auth:Timeout"] = "00:00:01",
        [$"Broker:Routes:{Route}:AllowPublish"] = "true",
        [$"Broker:Routes:{AnonymousRoute}:Anonymous"] = "true",
    });

    public async Task DisposeAsync() => await Host.DisposeAsync();
}

/// <summary>
/// <c>broker_connections{state}</c> (docs/observability.md): each connection is in exactly one
/// state, moves pending → authenticated at most once, and leaves from the state it is in, so with
/// nobody connected both states read 0 whatever kinds of connection came and went (issue #14: a
/// demo session left authenticated at -3 and pending at 3).
/// </summary>
[Collection(ObservabilityCollection.Name)] // its auth failures must not land in the scripted scenario's deltas
public sealed class ConnectionGaugeTests(ConnectionGaugeHostFixture fixture) : IClassFixture<ConnectionGaugeHostFixture>
{
    private BrokerTestHost Host => fixture.Host;

    [Fact]
    public async Task Gauge_returns_to_zero_in_both_states_after_every_kind_of_connection_has_come_and_gone()
    {
        var user = "gauge-" + Guid.NewGuid().ToString("N")[..8];
        var route = fixture.Route;

        // Authenticated four ways: a ticket at the handshake, a first-message JWT, a JWT then a
        // refresh, and an anonymous route.
        var (ticket, _) = await TicketTests.IssueTicketAsync(Host, TestTokens.Valid(user));
        await using var byTicket = await WireClient.ConnectAsync(Host.WebSocketUri(route, "ticket=" + Uri.EscapeDataString(ticket)));
        Assert.Equal("welcome", (await byTicket.ReceiveAsync()).Type());
        await using var byToken = await Host.ConnectAuthenticatedAsync(user, route);
        // These two are closed by the client mid-test (DisposeAsync is its close), so not `using`.
        var refreshed = await Host.ConnectAuthenticatedAsync(user + "-r", route);
        await refreshed.SendAsync("auth", "refresh-1", new JsonObject { ["token"] = TestTokens.Valid(user + "-r") });
        Assert.Equal("refreshed", (await refreshed.ReceiveAsync("refreshed", "refresh-1")).Type());
        var anonymous = await WireClient.ConnectAsync(Host.WebSocketUri(fixture.AnonymousRoute));
        Assert.Equal("welcome", (await anonymous.ReceiveAsync()).Type());

        // Each connection told the supervisor of its authentication before its welcome went out;
        // an ask queued behind those messages means the gauge has moved for all of them.
        await Host.StatsAsync();
        var during = await ScrapeAsync();
        Assert.Equal(3, during.Sum("broker_connections", "route=" + route, "state=authenticated"));
        Assert.Equal(0, during.Sum("broker_connections", "route=" + route, "state=pending"));
        Assert.Equal(1, during.Sum("broker_connections", "route=" + fixture.AnonymousRoute, "state=authenticated"));
        Assert.Equal(0, during.Sum("broker_connections", "route=" + fixture.AnonymousRoute, "state=pending"));

        // Gone every way: the operator's disconnect (the ticket and JWT connections of one user,
        // as in the demo), the client's close, a bad token, the auth deadline, and a ticket
        // refused at the handshake (never a connection at all).
        using (var request = new HttpRequestMessage(HttpMethod.Post, $"api/users/{user}/disconnect"))
        {
            request.Headers.Add("X-Api-Key", ConnectionGaugeHostFixture.ApiKey);
            using var response = await Host.Http.SendAsync(request);
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            Assert.Equal(2, (await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("disconnected").GetInt32());
        }
        Assert.Equal(CloseCodes.Disconnected, (await byTicket.ExpectCloseAsync()).Status);
        Assert.Equal(CloseCodes.Disconnected, (await byToken.ExpectCloseAsync()).Status);
        await refreshed.DisposeAsync();
        await anonymous.DisposeAsync();

        await using var rejected = await WireClient.ConnectAsync(Host.WebSocketUri(route));
        await rejected.SendAsync("auth", data: new JsonObject { ["token"] = "not-a-jwt" });
        await rejected.ExpectCloseAsync(); // 4401, though the client may miss the close frame (docs/observability.md)

        await using var silent = await WireClient.ConnectAsync(Host.WebSocketUri(route));
        var timedOut = await silent.ExpectCloseAsync();
        Assert.Equal((Close.AuthTimeout.Code, Close.AuthTimeout.Reason), (timedOut.Status, timedOut.Description));

        Assert.Equal(HttpStatusCode.Unauthorized,
            await WireClient.ConnectExpectingRefusalAsync(Host.WebSocketUri(route, "ticket=not-a-ticket")));

        // The gauge moves when the supervisor sees a connection actor stop; its own count says when
        // that has happened for all of them.
        await Eventually.TrueAsync(async () => (await Host.StatsAsync()).Connections == 0, "connections were still open on the node");
        var after = await ScrapeAsync();
        foreach (var r in new[] { route, fixture.AnonymousRoute })
        {
            Assert.Equal(0, after.Sum("broker_connections", "route=" + r, "state=authenticated"));
            Assert.Equal(0, after.Sum("broker_connections", "route=" + r, "state=pending"));
        }
    }

    private async Task<PrometheusScrape> ScrapeAsync()
    {
        using var response = await Host.Http.GetAsync("metrics");
        response.EnsureSuccessStatusCode();
        return PrometheusScrape.Parse(await response.Content.ReadAsStringAsync());
    }
}
