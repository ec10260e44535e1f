using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;

namespace Broker.Tests.Integration;

/// <summary>
/// Rooms, direct messages, recovery and the back-end API end to end: the real host on Kestrel,
/// real WebSocket clients, one shared host for the class (every test uses its own rooms and users).
/// </summary>
public sealed partial class RoomsIntegrationTests(RoomsHostFixture fixture) : IClassFixture<RoomsHostFixture>
{
    private readonly RoomsHostFixture _fixture = fixture;

    private Task<TestClient> Connect(string user) => _fixture.Host.ConnectAuthenticatedAsync(user, autoPong: true);

    private static string NewUser(string name) => $"{name}-{Guid.NewGuid():N}"[..20];

    [Fact]
    public async Task Every_member_sees_every_message_in_the_same_order_with_contiguous_offsets_while_three_publish_at_once()
    {
        const int perPublisher = 25;
        const int total = 3 * perPublisher;
        var room = RoomsHostFixture.NewRoom("race");
        var publishers = await Task.WhenAll(Enumerable.Range(1, 3).Select(n => Connect(NewUser($"pub{n}"))));
        await using var listener = await Connect(NewUser("listener"));
        var everyone = publishers.Append(listener).ToArray();
        try
        {
            foreach (var client in everyone) Assert.Equal(0, (await client.JoinAsync(room)).Long("offset"));

            var publishIds = await Task.WhenAll(publishers.Select(async p =>
            {
                var ids = new List<string>();
                for (var i = 1; i <= perPublisher; i++) ids.Add(await p.SendPublishAsync(room, new { from = p.User, seq = i }));
                return ids;
            }));

            var streams = await Task.WhenAll(everyone.Select(c => c.MessagesAsync(total)));
            var reference = streams[0];
            Assert.Equal(Enumerable.Range(1, total).Select(o => (long)o), reference.Select(m => m.Long("offset")));
            Assert.Single(reference.Select(m => m.Str("epoch")).Distinct());
            foreach (var stream in streams)
                Assert.Equal(reference.Select(m => m.GetRawText()), stream.Select(m => m.GetRawText()));
            foreach (var publisher in publishers)
            {
                // Each publisher's own messages keep the order it sent them in.
                var own = reference.Where(m => m.Str("from") == publisher.User).Select(m => m.GetProperty("payload").GetProperty("seq").GetInt32());
                Assert.Equal(Enumerable.Range(1, perPublisher), own);
            }
            for (var p = 0; p < publishers.Length; p++)
            {
                // Acks carry the offsets the room gave, increasing in the publisher's order.
                var offsets = new List<long>();
                foreach (var id in publishIds[p]) offsets.Add((await publishers[p].ReceiveAsync("ack", id)).Data().Long("offset"));
                Assert.Equal(offsets.Order(), offsets);
                var own = reference.Where(m => m.Str("from") == publishers[p].User).Select(m => m.Long("offset"));
                Assert.Equal(own, offsets);
            }
        }
        finally
        {
            foreach (var p in publishers) await p.DisposeAsync();
        }
    }

    [Fact]
    public async Task Thirty_pipelined_join_and_leave_pairs_get_thirty_joined_and_thirty_left_in_order()
    {
        // Every request with an id gets exactly one reply (PROTOCOL §3, issue #14): a join whose
        // member had already left by the time the room answered lost its joined.
        var room = RoomsHostFixture.NewRoom("pipelined");
        await using var alice = await Connect(NewUser("alice"));
        for (var i = 0; i < 30; i++)
        {
            await alice.SendAsync(new { type = "join", id = $"j{i}", data = new { room } });
            await alice.SendAsync(new { type = "leave", id = $"l{i}", data = new { room } });
        }

        var replies = new List<string>();
        while (replies.Count < 60)
        {
            var frame = await alice.ReceiveAsync();
            if (frame.Type() is "joined" or "left") replies.Add($"{frame.Type()}:{frame.Id()}");
        }
        Assert.Equal(Enumerable.Range(0, 30).SelectMany(i => new[] { $"joined:j{i}", $"left:l{i}" }), replies);
    }

    [Fact]
    public async Task A_message_frame_carries_room_offset_epoch_sender_and_the_payload_as_sent()
    {
        var room = RoomsHostFixture.NewRoom("shape");
        await using var alice = await Connect(NewUser("alice"));
        await using var bob = await Connect(NewUser("bob"));
        var epoch = (await alice.JoinAsync(room)).Str("epoch");
        await bob.JoinAsync(room);

        var offset = await alice.PublishAsync(room, new { text = "hello", n = 1.5, tags = new[] { "a" } });

        var message = (await bob.MessagesAsync(1))[0];
        Assert.Equal(1, offset);
        Assert.Equal(room, message.Str("room"));
        Assert.Equal(1, message.Long("offset"));
        Assert.Equal(epoch, message.Str("epoch"));
        Assert.Equal(alice.User, message.Str("from"));
        Assert.Equal("""{"text":"hello","n":1.5,"tags":["a"]}""", message.GetProperty("payload").GetRawText());
    }

    [Fact]
    public async Task ExcludeSelf_keeps_a_message_from_its_own_publisher_only()
    {
        var room = RoomsHostFixture.NewRoom("exclude");
        await using var alice = await Connect(NewUser("alice"));
        await using var bob = await Connect(NewUser("bob"));
        await alice.JoinAsync(room);
        await bob.JoinAsync(room);

        Assert.Equal(1, await alice.PublishAsync(room, "quiet", excludeSelf: true));
        Assert.Equal(2, await alice.PublishAsync(room, "loud"));

        Assert.Equal([1L, 2L], (await bob.MessagesAsync(2)).Select(m => m.Long("offset")));
        var aliceSees = (await alice.MessagesAsync(1))[0];
        Assert.Equal(2, aliceSees.Long("offset")); // offset 1 never reached alice
        Assert.Equal("loud", aliceSees.GetProperty("payload").GetString());
    }

    [Fact]
    public async Task Joined_lists_the_members_and_the_others_hear_presence_join_and_leave()
    {
        var room = RoomsHostFixture.NewRoom("presence");
        await using var alice = await Connect(NewUser("alice"));
        await using var bob = await Connect(NewUser("bob"));
        Assert.Equal([alice.User], (await alice.JoinAsync(room)).Strings("members"));

        var bobJoined = await bob.JoinAsync(room);

        Assert.Equal([alice.User, bob.User], bobJoined.Strings("members"));
        Assert.False(bobJoined.Bool("recovered"));
        await ExpectPresence(alice, room, "join", bob.User);

        var leaveId = bob.NextId("leave");
        await bob.SendAsync(new { type = "leave", id = leaveId, data = new { room } });

        var left = await bob.ReceiveAsync(); // bob heard nothing about himself in between
        Assert.Equal("left", left.Type());
        Assert.Equal(leaveId, left.Id());
        Assert.Equal(room, left.Data().Str("room"));
        await ExpectPresence(alice, room, "leave", bob.User);
    }

    [Fact]
    public async Task A_member_that_disconnects_is_announced_as_leaving()
    {
        var room = RoomsHostFixture.NewRoom("disconnect");
        await using var alice = await Connect(NewUser("alice"));
        var carol = await Connect(NewUser("carol"));
        var dropper = await Connect(NewUser("dave"));
        await alice.JoinAsync(room);
        await carol.JoinAsync(room);
        await dropper.JoinAsync(room);
        await ExpectPresence(alice, room, "join", carol.User);
        await ExpectPresence(alice, room, "join", dropper.User);

        await carol.CloseAsync();
        await ExpectPresence(alice, room, "leave", carol.User);

        dropper.Abort();
        await ExpectPresence(alice, room, "leave", dropper.User);
        await carol.DisposeAsync();
        await dropper.DisposeAsync();
    }

    [Fact]
    public async Task A_second_connection_of_a_member_is_not_announced_and_the_user_leaves_with_its_last_connection()
    {
        var room = RoomsHostFixture.NewRoom("multi");
        var bobUser = NewUser("bob");
        await using var alice = await Connect(NewUser("alice"));
        await using var bobPhone = await Connect(bobUser);
        var bobLaptop = await Connect(bobUser);
        await alice.JoinAsync(room);
        await bobPhone.JoinAsync(room);
        await ExpectPresence(alice, room, "join", bobUser);

        Assert.Equal([alice.User, bobUser], (await bobLaptop.JoinAsync(room)).Strings("members"));
        await bobLaptop.CloseAsync();
        await alice.PublishAsync(room, "marker");

        // Neither the laptop's join nor its leave reached alice: the next frame is her own message.
        var next = await alice.ReceiveMatchingAsync(f => f.Type() is "presence" or "message");
        Assert.Equal("message", next.Type());
        await bobLaptop.DisposeAsync();
    }

    [Fact]
    public async Task Publishing_to_a_room_without_joining_it_is_forbidden()
    {
        await using var alice = await Connect(NewUser("alice"));

        var id = await alice.SendPublishAsync(RoomsHostFixture.NewRoom("notjoined"), "hi");

        await ExpectError(alice, id, "forbidden");
    }

    [Fact]
    public async Task A_connection_cannot_join_more_rooms_than_the_limit()
    {
        await using var alice = await Connect(NewUser("alice"));
        for (var i = 0; i < RoomsHostFixture.MaxRoomsPerConnection; i++) await alice.JoinAsync(RoomsHostFixture.NewRoom("limit"));

        var id = await alice.SendJoinAsync(RoomsHostFixture.NewRoom("limit"));

        await ExpectError(alice, id, "forbidden");
    }

    [Fact]
    public async Task Leaving_a_room_frees_a_place_under_the_limit()
    {
        await using var alice = await Connect(NewUser("alice"));
        var rooms = Enumerable.Range(0, RoomsHostFixture.MaxRoomsPerConnection).Select(_ => RoomsHostFixture.NewRoom("limit")).ToArray();
        foreach (var room in rooms) await alice.JoinAsync(room);

        await alice.SendAsync(new { type = "leave", id = "l1", data = new { room = rooms[0] } });
        await alice.ReceiveAsync("left", "l1");

        await alice.JoinAsync(RoomsHostFixture.NewRoom("limit"));
    }

    private async Task<JsonElement> UserStatus(string user)
    {
        using var response = await Api(HttpMethod.Get, $"/api/users/{user}", apiKey: RoomsHostFixture.ApiKey);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await Body(response);
    }

    private static async Task ExpectPresence(TestClient client, string room, string @event, string user)
    {
        var presence = (await client.ReceiveAsync("presence")).Data();
        Assert.Equal(room, presence.Str("room"));
        Assert.Equal(@event, presence.Str("event"));
        Assert.Equal(user, presence.Str("user"));
    }

    private static async Task ExpectError(TestClient client, string id, string code)
    {
        var error = await client.ReceiveAsync("error", id);
        Assert.Equal(code, error.Data().Str("code"));
        Assert.False(string.IsNullOrEmpty(error.Data().Str("message")));
    }

    private static string ScopedToken(string user) => TestTokens.Valid(user, scope: "broker:publish");

    private async Task<HttpResponseMessage> Api(HttpMethod method, string path, string? bearer = null, object? body = null, string? apiKey = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (bearer is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        if (apiKey is not null) request.Headers.Add("X-Api-Key", apiKey);
        if (body is not null) request.Content = JsonContent.Create(body);
        return await _fixture.Host.Http.SendAsync(request);
    }

    private static async Task<JsonElement> Body(HttpResponseMessage response) =>
        await response.Content.ReadFromJsonAsync<JsonElement>();
}
