using System.Net;
using System.Net.Http.Json;
using Broker.Contracts.Protocol;

namespace Broker.Tests.Integration;

/// <summary>
/// <c>POST /api/users/{user}/disconnect</c> (docs/protocol-notes.md): every connection of the user
/// closes with 4500 (reconnect) or 4403 (stay away); nobody else is touched; same auth as publish.
/// </summary>
public sealed class DisconnectUserTests(DisconnectUserTests.ApiKeyHostFixture fixture) : IClassFixture<DisconnectUserTests.ApiKeyHostFixture>
{
    private BrokerTestHost Host => fixture.Host;

    /// <summary>The defaults plus an API key.</summary>
    public sealed class ApiKeyHostFixture : HostFixture
    {
        public const string ApiKey = "disconnect-tests-api-key-0123456789";

        protected override IReadOnlyDictionary<string, string?> Settings =>
            new Dictionary<string, string?> { ["Broker:ApiKey"] = ApiKey };
    }

    [Fact]
    public async Task Every_connection_of_the_user_closes_with_4500_and_other_users_stay_connected()
    {
        var (alice, bob) = (NewUser("alice"), NewUser("bob"));
        await using var phone = await Host.ConnectAuthenticatedAsync(alice);
        await using var laptop = await Host.ConnectAuthenticatedAsync(alice);
        await using var other = await Host.ConnectAuthenticatedAsync(bob);

        using var response = await Disconnect(alice, apiKey: ApiKeyHostFixture.ApiKey);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(2, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("disconnected").GetInt32());
        foreach (var socket in new[] { phone, laptop })
        {
            var closed = await socket.ExpectCloseAsync();
            Assert.Equal((Close.Disconnected.Code, Close.Disconnected.Reason), (closed.Status, closed.Description));
        }
        await other.PingPongAsync();
        Assert.True(Close.Disconnected.ShouldReconnect);
    }

    [Fact]
    public async Task Reconnect_false_closes_with_4403_so_clients_stay_away()
    {
        var alice = NewUser("alice");
        await using var socket = await Host.ConnectAuthenticatedAsync(alice);

        using var response = await Disconnect(alice, apiKey: ApiKeyHostFixture.ApiKey, body: new { reconnect = false });

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var closed = await socket.ExpectCloseAsync();
        Assert.Equal((Close.DisconnectedForbidden.Code, Close.DisconnectedForbidden.Reason), (closed.Status, closed.Description));
    }

    [Fact]
    public async Task A_user_may_connect_again_after_a_disconnect()
    {
        var alice = NewUser("alice");
        await using (var first = await Host.ConnectAuthenticatedAsync(alice))
        {
            using var response = await Disconnect(alice, apiKey: ApiKeyHostFixture.ApiKey);
            Assert.Equal(CloseCodes.Disconnected, (await first.ExpectCloseAsync()).Status);
        }

        await using var again = await Host.ConnectAuthenticatedAsync(alice);
        await again.PingPongAsync();
    }

    [Fact]
    public async Task A_jwt_with_the_publish_scope_may_disconnect_and_an_offline_user_counts_zero()
    {
        var token = TestTokens.Create("backend", extraClaims: new Dictionary<string, object> { ["scope"] = "broker:publish" });

        using var response = await Disconnect(NewUser("ghost"), bearer: token);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(0, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("disconnected").GetInt32());
    }

    [Fact]
    public async Task Without_credentials_or_with_a_wrong_key_it_is_401_and_nobody_is_closed()
    {
        var alice = NewUser("alice");
        await using var socket = await Host.ConnectAuthenticatedAsync(alice);

        using (var none = await Disconnect(alice))
            Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        using (var wrong = await Disconnect(alice, apiKey: "not-the-key"))
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);

        await socket.PingPongAsync();
    }

    [Fact]
    public async Task A_jwt_without_the_publish_scope_is_403()
    {
        var alice = NewUser("alice");
        await using var socket = await Host.ConnectAuthenticatedAsync(alice);

        using var response = await Disconnect(alice, bearer: TestTokens.Valid(alice));

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        await socket.PingPongAsync();
    }

    [Theory]
    [InlineData("{\"reconnect\":\"maybe\"}")]
    [InlineData("null")]
    [InlineData("not json")]
    public async Task A_body_that_is_not_the_reconnect_flag_is_400(string body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"api/users/{NewUser("alice")}/disconnect")
        {
            Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("X-Api-Key", ApiKeyHostFixture.ApiKey);

        using var response = await Host.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task A_body_over_1_KiB_is_400_not_the_default()
    {
        var alice = NewUser("alice");
        await using var socket = await Host.ConnectAuthenticatedAsync(alice);

        using var response = await Disconnect(alice, apiKey: ApiKeyHostFixture.ApiKey, body: new { reconnect = true, padding = new string('x', 2048) });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        await socket.PingPongAsync();
    }

    [Fact]
    public async Task An_operator_disconnect_is_counted_on_metrics_as_4500_disconnected_not_other()
    {
        string[] tags = ["route=chat", "code=4500", "reason=disconnected"];
        var before = await ScrapeAsync();
        var user = NewUser("metered");
        await using var phone = await Host.ConnectAuthenticatedAsync(user);
        await using var laptop = await Host.ConnectAuthenticatedAsync(user);

        using var response = await Disconnect(user, apiKey: ApiKeyHostFixture.ApiKey);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        await phone.ExpectCloseAsync();
        await laptop.ExpectCloseAsync();

        // Counted when each socket finishes; other tests may disconnect too, so at least ours.
        await Eventually.TrueAsync(
            async () => (await ScrapeAsync()).Sum("broker_connections_closed_total", tags) - before.Sum("broker_connections_closed_total", tags) >= 2,
            "the two operator disconnects never showed up as code=4500 reason=disconnected on /metrics");
    }

    private async Task<Broker.Tests.Observability.PrometheusScrape> ScrapeAsync()
    {
        using var response = await Host.Http.GetAsync("metrics");
        response.EnsureSuccessStatusCode();
        return Broker.Tests.Observability.PrometheusScrape.Parse(await response.Content.ReadAsStringAsync());
    }

    private static string NewUser(string prefix) => $"{prefix}-{Guid.NewGuid():N}";

    private async Task<HttpResponseMessage> Disconnect(string user, string? apiKey = null, string? bearer = null, object? body = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"api/users/{Uri.EscapeDataString(user)}/disconnect");
        if (apiKey is not null) request.Headers.Add("X-Api-Key", apiKey);
        if (bearer is not null) request.Headers.Authorization = new("Bearer", bearer);
        if (body is not null) request.Content = JsonContent.Create(body);
        return await Host.Http.SendAsync(request);
    }
}
