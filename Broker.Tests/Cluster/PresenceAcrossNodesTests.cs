using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;

namespace Broker.Tests.Cluster;

/// <summary>A three-node cluster whose <c>counts:*</c> rooms send counts (PROTOCOL §9.3).</summary>
public sealed class CountsClusterFixture : IAsyncLifetime
{
    public ThreeNodeCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync() =>
        Cluster = await ThreeNodeCluster.StartAsync(new Dictionary<string, string?> { ["Broker:Rooms:Namespaces:counts:Presence"] = "counts" });

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

/// <summary>
/// Presence across nodes: the room actor is the one source of the count, and its occupancy goes
/// through the hubs like any broadcast, so members on every node converge on the exact count
/// within about a second; full presence stays exact across nodes.
/// </summary>
[Trait("Category", "Cluster")]
public sealed class PresenceAcrossNodesTests(CountsClusterFixture fixture) : IClassFixture<CountsClusterFixture>
{
    private const int UsersPerNode = 4;
    private ClusterNode[] Nodes => fixture.Cluster.Nodes;

    [Fact]
    public async Task Members_on_every_node_converge_on_the_exact_count_within_about_a_second()
    {
        var room = $"counts:{Guid.NewGuid():N}";
        var clients = await ConnectOnEveryNode("cnt");
        try
        {
            // Everyone joins at once, from three nodes.
            var joined = await Task.WhenAll(clients.Select(c => c.JoinAsync(room)));
            Assert.All(joined, j => Assert.False(j.TryGetProperty("members", out _)));
            Assert.Equal(clients.Length, joined.Max(j => j.Long("count")));
            var lastJoin = Stopwatch.StartNew();
            var converged = await Task.WhenAll(clients.Select(c => TimeToCount(c, room, clients.Length)));
            // One interval (1 s) plus delivery; the slack is for a loaded test machine.
            Assert.True(lastJoin.Elapsed < TimeSpan.FromSeconds(3), $"converged after {lastJoin.Elapsed}");
            Assert.All(converged, t => Assert.True(t < TimeSpan.FromSeconds(3), $"a member converged after {t}"));

            // One user leaves on each node: everyone left converges on the new count.
            var leavers = new[] { clients[0], clients[UsersPerNode], clients[2 * UsersPerNode] };
            foreach (var leaver in leavers) await leaver.SendAsync(new { type = "leave", id = "l", data = new { room } });
            var stayers = clients.Except(leavers).ToArray();
            await Task.WhenAll(stayers.Select(c => TimeToCount(c, room, stayers.Length)));

            using var http = Api();
            foreach (var node in Nodes)
            {
                var info = await http.GetFromJsonAsync<JsonElement>(new Uri(node.BaseUri, $"/api/rooms/{room}"));
                Assert.Equal(stayers.Length, info.Long("count"));
                Assert.Equal(stayers.Select(c => c.User).Order(StringComparer.Ordinal), info.Strings("members"));
            }
        }
        finally
        {
            foreach (var client in clients) await client.DisposeAsync();
        }
    }

    [Fact]
    public async Task Full_presence_stays_exact_across_nodes()
    {
        var room = $"full-{Guid.NewGuid():N}";
        var clients = await ConnectOnEveryNode("full");
        try
        {
            var present = new List<TestClient>();
            foreach (var client in clients)
            {
                var joined = await client.JoinAsync(room);
                present.Add(client);
                Assert.Equal(present.Select(c => c.User).Order(), joined.Strings("members").Order());
                Assert.Equal(present.Count, joined.Long("count"));
            }
            // Every member heard a join of each user after it, wherever they are connected.
            for (var i = 0; i < clients.Length; i++)
            {
                var heard = new List<string>();
                for (var j = i + 1; j < clients.Length; j++)
                {
                    var presence = (await clients[i].ReceiveAsync("presence")).Data();
                    Assert.Equal("join", presence.Str("event"));
                    heard.Add(presence.Str("user"));
                }
                Assert.Equal(clients.Skip(i + 1).Select(c => c.User), heard);
            }
            await clients[^1].SendAsync(new { type = "leave", id = "l", data = new { room } });
            foreach (var client in clients[..^1])
            {
                var presence = (await client.ReceiveAsync("presence")).Data();
                Assert.Equal(("leave", clients[^1].User), (presence.Str("event"), presence.Str("user")));
            }
        }
        finally
        {
            foreach (var client in clients) await client.DisposeAsync();
        }
    }

    private async Task<TestClient[]> ConnectOnEveryNode(string prefix)
    {
        var run = Guid.NewGuid().ToString("N")[..6];
        return await Task.WhenAll(Enumerable.Range(0, 3 * UsersPerNode).Select(i =>
            TestClient.ConnectAuthenticatedAsync(Nodes[i / UsersPerNode].WebSocketUri(), TestTokens.Valid($"{prefix}-{run}-{i:D2}"), autoPong: true)));
    }

    /// <summary>How long until <paramref name="client"/> hears (or has heard) <c>occupancy</c> <paramref name="count"/> for <paramref name="room"/>.</summary>
    private static async Task<TimeSpan> TimeToCount(TestClient client, string room, int count)
    {
        var clock = Stopwatch.StartNew();
        await client.ReceiveMatchingAsync(f => f.Type() == "occupancy" && f.Data().Str("room") == room && f.Data().Long("count") == count,
            TimeSpan.FromSeconds(10));
        return clock.Elapsed;
    }

    private static HttpClient Api()
    {
        var http = new HttpClient { Timeout = TestClient.DefaultTimeout };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestTokens.Valid("presence-api", scope: "broker:publish"));
        return http;
    }
}
