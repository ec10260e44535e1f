using System.Net;
using System.Net.Http.Json;

namespace Broker.Tests.Observability;

[Collection(ObservabilityCollection.Name)]
public sealed class AdminAndHealthTests(ObservabilityHost host)
{
    [Fact]
    public async Task Health_endpoints_report_a_live_and_ready_node()
    {
        Assert.Equal(HttpStatusCode.OK, (await host.Http.GetAsync("/health/live")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await host.Http.GetAsync("/health/ready")).StatusCode);
    }

    [Fact]
    public async Task Admin_page_and_its_stats_show_the_connections_of_the_node()
    {
        var page = await AdminAsync("/admin", apiKey: ObservabilityHost.ApiKey);
        page.EnsureSuccessStatusCode();
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Contains("/admin/stats", await page.Content.ReadAsStringAsync());

        await using var client = await TestClient.ConnectAsync(host.WebSocketUri, autoPong: true);
        await client.SendAsync(new { type = "auth", data = new { token = TestTokens.Valid("admin-viewer") } });
        await client.ReceiveAsync("welcome");

        JsonElement stats = default;
        await Eventually.TrueAsync(async () =>
        {
            using var response = await AdminAsync("/admin/stats", bearer: TestTokens.Valid("operator", scope: "broker:admin"));
            stats = await response.Content.ReadFromJsonAsync<JsonElement>();
            return stats.GetProperty("byRoute").TryGetProperty(host.Route, out var count) && count.GetInt32() == 1;
        }, "the admin stats never showed the connection");
        Assert.True(stats.GetProperty("authenticated").GetInt32() >= 1);
        Assert.True(stats.GetProperty("ready").GetBoolean());
        Assert.Equal(1, stats.GetProperty("clusterMembers").GetInt32());
        Assert.False(string.IsNullOrEmpty(stats.GetProperty("node").GetString()));
        Assert.True(stats.TryGetProperty("publishesPerSecond", out _));
        await client.CloseAsync();
    }

    /// <summary>PROTOCOL §9.5: the console needs the API key or a JWT with scope broker:admin, in Development too.</summary>
    [Fact]
    public async Task The_admin_console_needs_credentials_and_without_them_gets_only_a_sign_in_page()
    {
        using var anonymous = await AdminAsync("/admin");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        var signIn = await anonymous.Content.ReadAsStringAsync();
        Assert.Contains("sign in", signIn);
        Assert.DoesNotContain("/admin/stats", signIn); // none of the console
        Assert.Equal(HttpStatusCode.Unauthorized, (await AdminAsync("/admin/stats")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await AdminAsync("/admin/stats", apiKey: "wrong-key")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await AdminAsync("/admin", bearer: "not-a-jwt")).StatusCode);
        // A valid token for the publish API is not an operator's.
        var publisher = TestTokens.Valid("backend", scope: "broker:publish");
        Assert.Equal(HttpStatusCode.Forbidden, (await AdminAsync("/admin/stats", bearer: publisher)).StatusCode);
        using var forbidden = await AdminAsync("/admin", bearer: publisher);
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        Assert.Contains("broker:admin", await forbidden.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.OK, (await AdminAsync("/admin", bearer: TestTokens.Valid("operator", scope: "broker:admin"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await AdminAsync("/admin/stats", apiKey: ObservabilityHost.ApiKey)).StatusCode);
    }

    private Task<HttpResponseMessage> AdminAsync(string path, string? apiKey = null, string? bearer = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (apiKey is not null) request.Headers.Add("X-Api-Key", apiKey);
        if (bearer is not null) request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", bearer);
        return host.Http.SendAsync(request);
    }
}
