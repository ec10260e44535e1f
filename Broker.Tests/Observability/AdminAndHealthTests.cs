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
        var html = await page.Content.ReadAsStringAsync();
        Assert.Contains("/admin/cluster", html);
        Assert.Contains("uPlot", html); // the chart library comes inlined, with the page

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
        Assert.DoesNotContain("/admin/cluster", signIn); // none of the console
        Assert.DoesNotContain("uPlot", signIn);
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

    /// <summary>PROTOCOL §9.5 for the console's JSON endpoints: 401 without credentials, 403 for a token without broker:admin, with the error body.</summary>
    [Theory]
    [InlineData("GET", "/admin/cluster")]
    [InlineData("GET", "/admin/users/console-probe")]
    [InlineData("POST", "/admin/users/console-probe/disconnect")]
    public async Task The_console_endpoints_refuse_callers_without_the_admin_credential(string method, string path)
    {
        using var anonymous = await AdminApi.SendAsync(host.Http.BaseAddress!, new HttpMethod(method), path);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal("unauthorized", (await anonymous.Content.ReadFromJsonAsync<JsonElement>()).Str("code"));
        using var wrongKey = await AdminApi.SendAsync(host.Http.BaseAddress!, new HttpMethod(method), path, apiKey: "wrong-key");
        Assert.Equal(HttpStatusCode.Unauthorized, wrongKey.StatusCode);
        using var scopeless = await AdminApi.SendAsync(host.Http.BaseAddress!, new HttpMethod(method), path, bearer: TestTokens.Valid("alice"));
        Assert.Equal(HttpStatusCode.Forbidden, scopeless.StatusCode);
        Assert.Equal("forbidden", (await scopeless.Content.ReadFromJsonAsync<JsonElement>()).Str("code"));
        using var publisher = await AdminApi.SendAsync(host.Http.BaseAddress!, new HttpMethod(method), path, bearer: TestTokens.Valid("backend", scope: "broker:publish"));
        Assert.Equal(HttpStatusCode.Forbidden, publisher.StatusCode);

        using var operatorCall = await AdminApi.SendAsync(host.Http.BaseAddress!, new HttpMethod(method), path, bearer: TestTokens.Valid("operator", scope: "broker:admin"));
        Assert.True(operatorCall.IsSuccessStatusCode, $"{method} {path} as an operator: {(int)operatorCall.StatusCode}");
    }

    [Fact]
    public async Task The_cluster_report_of_a_single_node_lists_it_as_the_answering_leader()
    {
        await using var client = await TestClient.ConnectAuthenticatedAsync(host.WebSocketUri, TestTokens.Valid("report-viewer"), autoPong: true);
        var report = await AdminApi.GetAsync(host.Http.BaseAddress!, "/admin/cluster", ObservabilityHost.ApiKey);
        var member = Assert.Single(report.GetProperty("members").EnumerateArray());
        Assert.True(member.Bool("answered"));
        Assert.True(member.Bool("isSelf"));
        Assert.True(member.Bool("isLeader"));
        Assert.Equal("Up", member.Str("status"));
        Assert.Equal(report.Str("self"), member.Str("node"));
    }

    private Task<HttpResponseMessage> AdminAsync(string path, string? apiKey = null, string? bearer = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (apiKey is not null) request.Headers.Add("X-Api-Key", apiKey);
        if (bearer is not null) request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", bearer);
        return host.Http.SendAsync(request);
    }
}
