using System.Net.Http.Json;

namespace Broker.Tests.Cluster;

/// <summary>
/// PROTOCOL §9.1 on three real nodes: the node that hosts a room (and a user's directory entry)
/// is killed; members and users connected to the other nodes stay what they were.
/// </summary>
[Trait("Category", "Cluster")]
public sealed class MembershipSurvivesNodeLossTests : NodeLossTest
{
    [Fact]
    public async Task Members_on_surviving_nodes_stay_joined_are_resynced_and_publish_without_joining_again()
    {
        var room = await Cluster.NewRoomHostedWhereAsync(host => host == Victim);
        var alice = await TestClient.ConnectAuthenticatedAsync(Seed.WebSocketUri(), TestTokens.Valid("alice"), autoPong: true);
        var bob = await TestClient.ConnectAuthenticatedAsync(Survivor.WebSocketUri(), TestTokens.Valid("bob"), autoPong: true);
        var oldEpoch = await JoinAsync(alice, room);
        await JoinAsync(bob, room);
        for (var n = 1; n <= 3; n++)
        {
            await alice.SendAsync(new { type = "publish", id = $"p{n}", data = new { room, payload = n } });
            var ack = await alice.ReceiveAsync("ack");
            Assert.Equal(oldEpoch, ack.GetProperty("data").GetProperty("epoch").GetString()); // §9.1: ack carries the epoch
        }
        for (var n = 1; n <= 3; n++) Assert.Equal(n, (await bob.ReceiveAsync("message")).GetProperty("data").GetProperty("offset").GetInt64());

        await Victim.CrashAsync();

        // Alice keeps publishing as a client would: while the room moves the answer is "unavailable"
        // (retry), never "forbidden", never nothing.
        var (ack4, aliceSaw, unavailable) = await RequestUntilAnsweredAsync(alice, id => new { type = "publish", id, data = new { room, payload = 4 } });
        var newEpoch = ack4.GetProperty("epoch").GetString()!;
        Assert.NotEqual(oldEpoch, newEpoch);
        Assert.Equal(1, ack4.GetProperty("offset").GetInt64());
        Assert.Contains(aliceSaw, f => IsResync(f, room, newEpoch));

        // Bob, on the other survivor, is told the history was lost and gets the new epoch's message once.
        var bobSaw = new List<JsonElement>();
        while (!bobSaw.Any(f => IsResync(f, room, newEpoch)) || !bobSaw.Any(f => IsMessage(f, newEpoch, 1)))
            bobSaw.Add(await bob.ReceiveAsync());
        Assert.Single(bobSaw, f => IsMessage(f, newEpoch, 1));
        Assert.DoesNotContain(bobSaw, f => f.GetProperty("type").GetString() == "error");

        // Both are still listed, and the room knows them without a join.
        var presence = await GetAsync(Seed, $"/api/rooms/{room}");
        Assert.Equal(["alice", "bob"], presence.GetProperty("members").EnumerateArray().Select(m => m.GetString()).Order());
        Console.WriteLine($"publishes answered unavailable while the room moved: {unavailable}");

        await alice.DisposeAsync();
        await bob.DisposeAsync();
    }

    [Fact]
    public async Task A_user_whose_directory_entry_died_with_its_node_stays_reachable_and_listed()
    {
        // A user connected to a survivor whose directory entry lives on the node that will die.
        TestClient? carol = null;
        string? user = null;
        for (var attempt = 0; attempt < 40 && user is null; attempt++)
        {
            var candidate = $"carol-{attempt}";
            var client = await TestClient.ConnectAuthenticatedAsync(Seed.WebSocketUri(), TestTokens.Valid(candidate), autoPong: true);
            await Eventually.TrueAsync(async () => await HostOfUserAsync(candidate) is not null, TimeSpan.FromSeconds(10), "user entry exists");
            if (await HostOfUserAsync(candidate) == Victim) (carol, user) = (client, candidate);
            else await client.DisposeAsync();
        }
        Assert.NotNull(user);
        var dave = await TestClient.ConnectAuthenticatedAsync(Survivor.WebSocketUri(), TestTokens.Valid("dave"), autoPong: true);

        await Victim.CrashAsync();
        await Eventually.TrueAsync(() => Seed.UpMembers() == 2, TimeSpan.FromSeconds(60), "victim downed");

        // A send is answered (ack, or "unavailable" while the entry moves), and reaches carol once
        // the entry is re-homed: she is never silently lost.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        var delivered = 0;
        while (delivered == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "carol unreachable after her directory entry's node died");
            var (ack, _, _) = await RequestUntilAnsweredAsync(dave, id => new { type = "send", id, data = new { user, payload = 1 } });
            delivered = ack.GetProperty("delivered").GetInt32();
            if (delivered == 0) await Task.Delay(200); // the entry is back but carol not yet registered again: retry
        }
        Assert.Equal(1, delivered);
        Assert.Equal("dave", (await carol!.ReceiveAsync("direct")).GetProperty("data").GetProperty("from").GetString());
        var status = await GetAsync(Survivor, $"/api/users/{user}");
        Assert.True(status.GetProperty("online").GetBoolean());
        Assert.Equal(1, status.GetProperty("connections").GetInt32());

        await carol.DisposeAsync();
        await dave.DisposeAsync();
    }

    private static async Task<string> JoinAsync(TestClient client, string room)
    {
        await client.SendAsync(new { type = "join", id = "j", data = new { room } });
        return (await client.ReceiveAsync("joined")).GetProperty("data").GetProperty("epoch").GetString()!;
    }

    /// <summary>
    /// Sends a request until it is acknowledged, as a client retries <c>unavailable</c> with backoff;
    /// returns the ack's data, every other frame seen meanwhile, and how many tries were "unavailable".
    /// Any other answer fails the test.
    /// </summary>
    private static async Task<(JsonElement Ack, List<JsonElement> Seen, int Unavailable)> RequestUntilAnsweredAsync(
        TestClient client, Func<string, object> request)
    {
        var seen = new List<JsonElement>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        for (var attempt = 0; ; attempt++)
        {
            Assert.True(DateTime.UtcNow < deadline, "the room never came back");
            var id = $"retry-{attempt}";
            await client.SendAsync(request(id));
            while (true)
            {
                var frame = await client.ReceiveAsync();
                if (!frame.TryGetProperty("id", out var replyId) || replyId.GetString() != id)
                {
                    seen.Add(frame);
                    continue;
                }
                if (frame.GetProperty("type").GetString() == "ack") return (frame.GetProperty("data"), seen, attempt);
                Assert.Equal("error", frame.GetProperty("type").GetString());
                Assert.Equal("unavailable", frame.GetProperty("data").GetProperty("code").GetString());
                break;
            }
            await Task.Delay(200); // the client's backoff
        }
    }

    private static bool IsResync(JsonElement frame, string room, string epoch) =>
        frame.GetProperty("type").GetString() == "joined" && !frame.TryGetProperty("id", out _)
        && frame.GetProperty("data").GetProperty("room").GetString() == room
        && frame.GetProperty("data").GetProperty("epoch").GetString() == epoch
        && !frame.GetProperty("data").GetProperty("recovered").GetBoolean();

    private static bool IsMessage(JsonElement frame, string epoch, long offset) =>
        frame.GetProperty("type").GetString() == "message"
        && frame.GetProperty("data").GetProperty("epoch").GetString() == epoch
        && frame.GetProperty("data").GetProperty("offset").GetInt64() == offset;

    private async Task<ClusterNode?> HostOfUserAsync(string user)
    {
        foreach (var node in Cluster.Nodes)
            if (await node.HostsUserAsync(user)) return node;
        return null;
    }

    private static async Task<JsonElement> GetAsync(ClusterNode node, string path)
    {
        using var http = new HttpClient { Timeout = TestClient.DefaultTimeout };
        http.DefaultRequestHeaders.Authorization = new("Bearer", TestTokens.Valid("ops", scope: "broker:publish"));
        return await http.GetFromJsonAsync<JsonElement>(new Uri(node.BaseUri, path));
    }
}
