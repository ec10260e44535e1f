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
        var page = await host.Http.GetAsync("/admin");
        page.EnsureSuccessStatusCode();
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Contains("/admin/stats", await page.Content.ReadAsStringAsync());

        await using var client = await TestClient.ConnectAsync(host.WebSocketUri, autoPong: true);
        await client.SendAsync(new { type = "auth", data = new { token = TestTokens.Valid("admin-viewer") } });
        await client.ReceiveAsync("welcome");

        JsonElement stats = default;
        await Eventually.TrueAsync(async () =>
        {
            stats = await host.Http.GetFromJsonAsync<JsonElement>("/admin/stats");
            return stats.GetProperty("byRoute").TryGetProperty(host.Route, out var count) && count.GetInt32() == 1;
        }, "the admin stats never showed the connection");
        Assert.True(stats.GetProperty("authenticated").GetInt32() >= 1);
        Assert.True(stats.GetProperty("ready").GetBoolean());
        Assert.Equal(1, stats.GetProperty("clusterMembers").GetInt32());
        Assert.False(string.IsNullOrEmpty(stats.GetProperty("node").GetString()));
        Assert.True(stats.TryGetProperty("publishesPerSecond", out _));
        await client.CloseAsync();
    }
}
