using System.Net.Http.Json;

namespace Broker.Tests.Cluster;

/// <summary>
/// <c>Broker:Limits:MaxConnectionsPerUser</c> is one count for the whole cluster: the user's
/// directory entry decides, so connections racing in on two nodes at once never get past it together.
/// </summary>
[Trait("Category", "Cluster")]
public sealed class ConnectionCapAcrossNodesTests : IAsyncLifetime
{
    private const int Cap = 3;
    private ClusterNode[] _nodes = [];

    public async Task InitializeAsync()
    {
        var settings = new Dictionary<string, string?> { ["Broker:Limits:MaxConnectionsPerUser"] = Cap.ToString() };
        var seedPort = ClusterNode.FreePort();
        var seeds = $"akka.tcp://broker@127.0.0.1:{seedPort}";
        var seed = await ClusterNode.StartAsync(seedPort, seeds, settings);
        _nodes = [seed, await ClusterNode.StartAsync(0, seeds, settings)];
        await Eventually.TrueAsync(() => _nodes.All(n => n.UpMembers() == 2), TimeSpan.FromSeconds(40), "two Up members on both nodes");
    }

    public async Task DisposeAsync()
    {
        foreach (var node in _nodes.Reverse()) await node.DisposeAsync();
    }

    [Fact]
    public async Task Six_connections_of_one_user_racing_in_on_two_nodes_leave_exactly_the_cap_open()
    {
        const string user = "racer";
        var tokens = _nodes.Select(_ => TestTokens.Valid(user)).ToArray();
        // Three per node, all at once.
        var connected = await Task.WhenAll(Enumerable.Range(0, 2 * Cap).Select(async i =>
            await TestClient.ConnectAuthenticatedAsync(_nodes[i % 2].WebSocketUri(), tokens[i % 2], autoPong: true)));
        try
        {
            // A refused one's next frame is error forbidden; an admitted one's is the pong to this ping.
            var next = connected.Select(c => c.ReceiveAsync()).ToArray();
            await Eventually.TrueAsync(() => next.Count(t => t.IsCompleted) == Cap, TestClient.DefaultTimeout, $"{Cap} refusals");
                        // Only the admitted: a refused one's socket is closed by now.
            for (var i = 0; i < connected.Length; i++)
                if (!next[i].IsCompleted) await connected[i].SendAsync(new { type = "ping", id = "alive" });
            var firsts = await Task.WhenAll(next);

            var refused = connected.Where((_, i) => firsts[i].GetProperty("type").GetString() == "error").ToArray();
            Assert.Equal(Cap, refused.Length);
            Assert.All(firsts.Where(f => f.GetProperty("type").GetString() == "error"),
                f => Assert.Equal("forbidden", f.GetProperty("data").GetProperty("code").GetString()));
            foreach (var client in refused) Assert.Equal(4403, (await client.ExpectCloseAsync()).Status);
            Assert.Equal(Cap, firsts.Count(f => f.GetProperty("type").GetString() == "pong"));

            // Both nodes' API see the one cluster-wide count.
            foreach (var node in _nodes) Assert.Equal(Cap, await ConnectionsOfAsync(node, user));
        }
        finally
        {
            foreach (var client in connected) await client.DisposeAsync();
        }
    }

    private static async Task<int> ConnectionsOfAsync(ClusterNode node, string user)
    {
        using var http = new HttpClient { Timeout = TestClient.DefaultTimeout };
        http.DefaultRequestHeaders.Authorization = new("Bearer", TestTokens.Valid("cap-operator", scope: "broker:publish"));
        var status = await http.GetFromJsonAsync<JsonElement>(new Uri(node.BaseUri, $"/api/users/{user}"));
        return status.GetProperty("connections").GetInt32();
    }
}
