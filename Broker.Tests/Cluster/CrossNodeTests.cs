using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace Broker.Tests.Cluster;

/// <summary>A healthy three-node cluster shared by the tests that do not break it.</summary>
public sealed class HealthyClusterFixture : IAsyncLifetime
{
    public ThreeNodeCluster Cluster { get; private set; } = null!;
    public async Task InitializeAsync() => Cluster = await ThreeNodeCluster.StartAsync();
    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

/// <summary>Rooms, presence and direct messages behave across nodes exactly as on one node.</summary>
[Trait("Category", "Cluster")]
public sealed class CrossNodeTests(HealthyClusterFixture fixture) : IClassFixture<HealthyClusterFixture>
{
    private ClusterNode[] Nodes => fixture.Cluster.Nodes;

    [Fact]
    public async Task Room_broadcasts_reach_members_on_every_node_in_one_order()
    {
        const string room = "xnode-order";
        const int perPublisher = 20;
        var clients = new List<TestClient>();
        for (var i = 0; i < 3; i++)
        {
            var client = await TestClient.ConnectAuthenticatedAsync(Nodes[i].WebSocketUri(), TestTokens.Valid($"order-{i}"), autoPong: true);
            clients.Add(client);
            await client.SendAsync(new { type = "join", id = "j", data = new { room } });
            await client.ReceiveAsync("joined");
        }

        // Three publishers on three nodes at once: the room still makes one sequence of them.
        await Task.WhenAll(clients.Select((client, i) => Task.Run(async () =>
        {
            for (var n = 0; n < perPublisher; n++)
                await client.SendAsync(new { type = "publish", data = new { room, payload = $"{i}:{n}" } });
        })));

        var sequences = await Task.WhenAll(clients.Select(async client =>
        {
            var seen = new List<(long Offset, string Payload)>();
            while (seen.Count < 3 * perPublisher)
            {
                var data = (await client.ReceiveAsync("message")).GetProperty("data");
                seen.Add((data.GetProperty("offset").GetInt64(), data.GetProperty("payload").GetString()!));
            }
            return seen;
        }));

        foreach (var sequence in sequences)
        {
            Assert.Equal(Enumerable.Range(1, 3 * perPublisher).Select(o => (long)o), sequence.Select(s => s.Offset));
            Assert.Equal(sequences[0].Select(s => s.Payload), sequence.Select(s => s.Payload));
        }
        // Each publisher's own messages stay in the order it sent them.
        for (var i = 0; i < 3; i++)
        {
            var mine = sequences[0].Select(s => s.Payload).Where(p => p.StartsWith($"{i}:")).ToList();
            Assert.Equal(Enumerable.Range(0, perPublisher).Select(n => $"{i}:{n}"), mine);
        }
        foreach (var client in clients) await client.DisposeAsync();
    }

    [Fact]
    public async Task Presence_events_and_member_lists_cross_nodes()
    {
        const string room = "xnode-presence";
        var a = await TestClient.ConnectAuthenticatedAsync(Nodes[0].WebSocketUri(), TestTokens.Valid("pres-a"), autoPong: true);
        var b = await TestClient.ConnectAuthenticatedAsync(Nodes[1].WebSocketUri(), TestTokens.Valid("pres-b"), autoPong: true);
        var c = await TestClient.ConnectAuthenticatedAsync(Nodes[2].WebSocketUri(), TestTokens.Valid("pres-c"), autoPong: true);

        await a.SendAsync(new { type = "join", data = new { room } });
        await a.ReceiveAsync("joined");
        await b.SendAsync(new { type = "join", data = new { room } });
        await b.ReceiveAsync("joined");
        await AssertPresence(a, "join", "pres-b");

        await c.SendAsync(new { type = "join", data = new { room } });
        var joined = (await c.ReceiveAsync("joined")).GetProperty("data");
        Assert.Equal(["pres-a", "pres-b", "pres-c"], joined.GetProperty("members").EnumerateArray().Select(m => m.GetString()).Order());
        await AssertPresence(a, "join", "pres-c");
        await AssertPresence(b, "join", "pres-c");

        await c.DisposeAsync(); // a disconnect, not a leave: presence still follows
        await AssertPresence(a, "leave", "pres-c");
        await AssertPresence(b, "leave", "pres-c");
        await a.DisposeAsync();
        await b.DisposeAsync();
    }

    [Fact]
    public async Task A_direct_message_reaches_every_connection_of_the_user_on_any_node()
    {
        var sender = await TestClient.ConnectAuthenticatedAsync(Nodes[0].WebSocketUri(), TestTokens.Valid("dm-sender"), autoPong: true);
        var first = await TestClient.ConnectAuthenticatedAsync(Nodes[1].WebSocketUri(), TestTokens.Valid("dora"), autoPong: true);
        var second = await TestClient.ConnectAuthenticatedAsync(Nodes[2].WebSocketUri(), TestTokens.Valid("dora"), autoPong: true);

        // Registration with the user directory is asynchronous; wait until both connections count.
        await Eventually.TrueAsync(async () =>
        {
            await sender.SendAsync(new { type = "send", id = "probe", data = new { user = "dora", payload = "probe" } });
            var ack = await sender.ReceiveAsync("ack");
            return ack.GetProperty("data").GetProperty("delivered").GetInt32() == 2;
        }, TimeSpan.FromSeconds(10), "both of dora's connections registered");

        await sender.SendAsync(new { type = "send", id = "s1", data = new { user = "dora", payload = new { text = "hi dora" } } });
        var delivered = await sender.ReceiveAsync("ack");
        Assert.Equal("s1", delivered.GetProperty("id").GetString());
        Assert.Equal(2, delivered.GetProperty("data").GetProperty("delivered").GetInt32());
        foreach (var client in new[] { first, second })
        {
            JsonElement direct;
            do direct = (await client.ReceiveAsync("direct")).GetProperty("data");
            while (direct.GetProperty("payload").ValueKind == JsonValueKind.String); // the probes
            Assert.Equal("dm-sender", direct.GetProperty("from").GetString());
            Assert.Equal("hi dora", direct.GetProperty("payload").GetProperty("text").GetString());
        }
        await sender.DisposeAsync();
        await first.DisposeAsync();
        await second.DisposeAsync();
    }

    [Fact]
    public async Task The_publish_api_on_one_node_reaches_members_on_the_others()
    {
        const string room = "xnode-api";
        var a = await TestClient.ConnectAuthenticatedAsync(Nodes[0].WebSocketUri(), TestTokens.Valid("api-a"), autoPong: true);
        var b = await TestClient.ConnectAuthenticatedAsync(Nodes[1].WebSocketUri(), TestTokens.Valid("api-b"), autoPong: true);
        foreach (var client in new[] { a, b })
        {
            await client.SendAsync(new { type = "join", data = new { room } });
            await client.ReceiveAsync("joined");
        }

        using var http = new HttpClient { Timeout = TestClient.DefaultTimeout };
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(Nodes[2].BaseUri, "/api/publish"))
        {
            Content = new StringContent("""{"room":"xnode-api","payload":{"n":1}}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TestTokens.Valid("backend", scope: "broker:publish"));
        using var response = await http.SendAsync(request);
        Assert.Equal(System.Net.HttpStatusCode.Accepted, response.StatusCode);

        foreach (var client in new[] { a, b })
        {
            var data = (await client.ReceiveAsync("message")).GetProperty("data");
            Assert.Equal("backend", data.GetProperty("from").GetString());
            Assert.Equal(1, data.GetProperty("payload").GetProperty("n").GetInt32());
        }
        await a.DisposeAsync();
        await b.DisposeAsync();
    }

    [Fact]
    public async Task A_ticket_issued_on_one_node_is_redeemable_once_on_another()
    {
        using var http = new HttpClient { Timeout = TestClient.DefaultTimeout };
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(Nodes[0].BaseUri, "/auth/ticket"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TestTokens.Valid("ticket-holder"));
        using var response = await http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        var ticket = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("ticket").GetString()!;

        var query = "ticket=" + Uri.EscapeDataString(ticket);
        await using var client = await TestClient.ConnectAsync(Nodes[1].Host.WebSocketUri("chat", query));
        var welcome = (await client.ReceiveAsync("welcome")).Data();
        Assert.Equal("ticket-holder", welcome.GetProperty("user").GetString());

        var replayed = await TestClient.ConnectExpectingRefusalAsync(Nodes[2].Host.WebSocketUri("chat", query));
        Assert.Equal(HttpStatusCode.Unauthorized, replayed);
    }

    private static async Task AssertPresence(TestClient client, string @event, string user)
    {
        var data = (await client.ReceiveAsync("presence")).GetProperty("data");
        Assert.Equal(@event, data.GetProperty("event").GetString());
        Assert.Equal(user, data.GetProperty("user").GetString());
    }
}
