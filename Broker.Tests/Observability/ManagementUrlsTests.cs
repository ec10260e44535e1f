using System.Net;
using System.Net.WebSockets;

namespace Broker.Tests.Observability;

/// <summary>
/// <c>Broker:Management:Urls</c> (PROTOCOL §9.5) on the real host process, as an operator runs it:
/// <c>/metrics</c>, <c>/health/*</c> and <c>/admin</c> answer on the management listener only and
/// 404 on the client-facing URL, which keeps serving clients; the management listener serves
/// nothing else.
/// </summary>
[Collection(Cluster.BootstrapNodesCollection.Name)]
public sealed class ManagementUrlsTests
{
    private const string ApiKey = "management-urls-api-key-0123456789abcdef";

    [Fact]
    public async Task The_management_endpoints_move_to_their_own_listener()
    {
        var ports = BrokerProcess.FreePorts(3);
        var logs = Path.Combine(AppContext.BaseDirectory, "node-logs", $"{DateTime.Now:yyyyMMdd-HHmmss}-management-{Guid.NewGuid().ToString("N")[..6]}");
        await using var node = new BrokerProcess("node-1", ports[0], ports[1], new Dictionary<string, string>
        {
            ["Broker:Management:Urls"] = $"http://127.0.0.1:{ports[2]}",
            ["Broker:ApiKey"] = ApiKey,
            ["Broker:Persistence:Provider"] = "none",
        }, Path.Combine(logs, "node-1.log"));
        await node.StartAsync(readinessUrl: $"http://127.0.0.1:{ports[2]}/health/ready");
        using var management = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{ports[2]}/") };

        Assert.Equal(HttpStatusCode.OK, (await management.GetAsync("health/live")).StatusCode);
        var metrics = await management.GetAsync("metrics");
        Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
        Assert.Contains("broker_cluster_members", await metrics.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.Unauthorized, (await management.GetAsync("admin")).StatusCode);
        foreach (var path in new[] { "admin/stats", "admin/cluster", "admin/users/someone", "admin" })
        {
            // The console (page and data) works entirely on the management listener.
            using var signedIn = new HttpRequestMessage(HttpMethod.Get, path);
            signedIn.Headers.Add("X-Api-Key", ApiKey);
            Assert.Equal(HttpStatusCode.OK, (await management.SendAsync(signedIn)).StatusCode);
        }
        // The management listener is not a way in for clients.
        Assert.Equal(HttpStatusCode.NotFound, (await management.GetAsync("auth/dev-token")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await management.GetAsync("broker/broker-client.js")).StatusCode);

        // The client-facing URL: none of the management endpoints, whatever Host header is sent.
        foreach (var path in new[] { "metrics", "health/ready", "health/live", "admin", "admin/stats", "admin/cluster", "admin/users/someone" })
            Assert.Equal(HttpStatusCode.NotFound, (await node.Http.GetAsync(path)).StatusCode);
        using (var spoofed = new HttpRequestMessage(HttpMethod.Get, "metrics"))
        {
            spoofed.Headers.Host = $"127.0.0.1:{ports[2]}";
            Assert.Equal(HttpStatusCode.NotFound, (await node.Http.SendAsync(spoofed)).StatusCode);
        }
        // ...and clients are served there as before.
        await using var client = await TestClient.ConnectAsync(node.WebSocketUri());
        await client.SendAsync(new { type = "auth", data = new { token = TestTokens.Valid("client-on-the-public-port") } });
        await client.ReceiveAsync("welcome");
        await Assert.ThrowsAnyAsync<WebSocketException>(async () =>
        {
            using var socket = new ClientWebSocket();
            await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{ports[2]}/ws/chat"), CancellationToken.None);
        });
    }
}
