using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Broker.Contracts.Protocol;

namespace Broker.Tests.Cluster;

/// <summary><c>POST /api/users/{user}/disconnect</c> on one node closes the user's sockets on the others.</summary>
[Trait("Category", "Cluster")]
public sealed class CrossNodeDisconnectTests(HealthyClusterFixture fixture) : IClassFixture<HealthyClusterFixture>
{
    private ClusterNode[] Nodes => fixture.Cluster.Nodes;

    [Fact]
    public async Task A_disconnect_asked_on_one_node_closes_the_users_sockets_on_every_node_and_nobody_elses()
    {
        var first = await TestClient.ConnectAuthenticatedAsync(Nodes[1].WebSocketUri(), TestTokens.Valid("eve"), autoPong: true);
        var second = await TestClient.ConnectAuthenticatedAsync(Nodes[2].WebSocketUri(), TestTokens.Valid("eve"), autoPong: true);
        var bystander = await TestClient.ConnectAuthenticatedAsync(Nodes[1].WebSocketUri(), TestTokens.Valid("frank"), autoPong: true);
        using var http = new HttpClient { Timeout = TestClient.DefaultTimeout };
        var backend = TestTokens.Valid("ops", scope: "broker:publish");

        // Registration with the user directory is asynchronous; wait until both connections count.
        await Eventually.TrueAsync(async () =>
        {
            using var status = new HttpRequestMessage(HttpMethod.Get, new Uri(Nodes[0].BaseUri, "/api/users/eve"));
            status.Headers.Authorization = new AuthenticationHeaderValue("Bearer", backend);
            using var response = await http.SendAsync(status);
            return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("connections").GetInt32() == 2;
        }, TimeSpan.FromSeconds(10), "both of eve's connections registered");

        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(Nodes[0].BaseUri, "/api/users/eve/disconnect"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", backend);
        using var disconnect = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.Accepted, disconnect.StatusCode);
        Assert.Equal(2, (await disconnect.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("disconnected").GetInt32());
        foreach (var socket in new[] { first, second })
        {
            var close = await socket.ExpectCloseAsync();
            Assert.Equal(CloseCodes.Disconnected, close.Status);
            Assert.Equal(Close.Disconnected.Reason, close.Description);
        }
        await bystander.SendAsync(new { type = "ping", id = "still-here" });
        Assert.Equal("still-here", (await bystander.ReceiveAsync("pong")).GetProperty("id").GetString());

        await first.DisposeAsync();
        await second.DisposeAsync();
        await bystander.DisposeAsync();
    }
}
