using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Xunit;

namespace Broker.Tests.Integration;

/// <summary>
/// Rooms, direct messages, recovery and the back-end API end to end: the real host on Kestrel,
/// real WebSocket clients, one shared host for the class (every test uses its own rooms and users).
/// </summary>
public sealed class RoomsIntegrationTests(RoomsHostFixture fixture) : IClassFixture<RoomsHostFixture>
{
    private Task<TestClient> Connect(string user) => fixture.Host.ConnectAuthenticatedAsync(user, autoPong: true);

    private static string NewUser(string name) => $"{name}-{Guid.NewGuid():N}"[..20];

    // ---------------- rooms over WebSocket ----------------

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

    // ---------------- direct messages ----------------

    [Fact]
    public async Task A_direct_message_reaches_every_connection_of_the_user_and_the_sender_learns_how_many()
    {
        var bobUser = NewUser("bob");
        await using var alice = await Connect(NewUser("alice"));
        await using var bobPhone = await Connect(bobUser);
        await using var bobLaptop = await Connect(bobUser);

        await alice.SendAsync(new { type = "send", id = "s1", data = new { user = bobUser, payload = new { text = "psst" } } });

        var ack = await alice.ReceiveAsync("ack", "s1");
        Assert.Equal(2, ack.Data().GetProperty("delivered").GetInt32());
        foreach (var bob in new[] { bobPhone, bobLaptop })
        {
            var direct = await bob.ReceiveAsync("direct");
            Assert.Equal(alice.User, direct.Data().Str("from"));
            Assert.Equal("""{"text":"psst"}""", direct.Data().GetProperty("payload").GetRawText());
        }
    }

    [Fact]
    public async Task A_direct_message_to_an_offline_user_is_delivered_to_nobody()
    {
        await using var alice = await Connect(NewUser("alice"));

        await alice.SendAsync(new { type = "send", id = "s1", data = new { user = NewUser("ghost"), payload = 1 } });

        Assert.Equal(0, (await alice.ReceiveAsync("ack", "s1")).Data().GetProperty("delivered").GetInt32());
    }

    // ---------------- recovery ----------------

    [Fact]
    public async Task A_client_that_reconnects_with_its_position_gets_exactly_the_missed_messages_before_joined()
    {
        var room = RoomsHostFixture.NewRoom("recover");
        var aliceUser = NewUser("alice");
        await using var publisher = await Connect(NewUser("pub"));
        var alice = await Connect(aliceUser);
        var epoch = (await alice.JoinAsync(room)).Str("epoch");
        await publisher.JoinAsync(room);
        await publisher.PublishAsync(room, 1);
        await publisher.PublishAsync(room, 2);
        var seen = await alice.MessagesAsync(2);
        alice.Abort();

        for (var n = 3; n <= 2 + RoomsHostFixture.HistorySize; n++) await publisher.PublishAsync(room, n);
        await using var aliceAgain = await Connect(aliceUser);
        var joinId = await aliceAgain.SendJoinAsync(room, epoch, seen[^1].Long("offset"));

        var replayed = new List<JsonElement>();
        for (var i = 0; i < RoomsHostFixture.HistorySize; i++) replayed.Add(await aliceAgain.ReceiveAsync());
        var joined = await aliceAgain.ReceiveAsync();
        Assert.All(replayed, f => Assert.Equal("message", f.Type()));
        Assert.Equal([3L, 4L, 5L], replayed.Select(f => f.Data().Long("offset")));
        Assert.Equal(["3", "4", "5"], replayed.Select(f => f.Data().GetProperty("payload").GetRawText()));
        Assert.Equal("joined", joined.Type());
        Assert.Equal(joinId, joined.Id());
        Assert.Equal(epoch, joined.Data().Str("epoch"));
        Assert.Equal(5, joined.Data().Long("offset"));
        Assert.True(joined.Data().Bool("recovered"));
        await alice.DisposeAsync();
    }

    [Fact]
    public async Task A_client_that_missed_more_than_the_history_is_told_it_did_not_recover()
    {
        var room = RoomsHostFixture.NewRoom("toolate");
        var aliceUser = NewUser("alice");
        await using var publisher = await Connect(NewUser("pub"));
        var alice = await Connect(aliceUser);
        var epoch = (await alice.JoinAsync(room)).Str("epoch");
        await publisher.JoinAsync(room);
        await publisher.PublishAsync(room, 1);
        await alice.MessagesAsync(1);
        alice.Abort();

        for (var n = 2; n <= 3 + RoomsHostFixture.HistorySize; n++) await publisher.PublishAsync(room, n); // 2..6, history keeps 4..6
        await using var aliceAgain = await Connect(aliceUser);
        await aliceAgain.SendJoinAsync(room, epoch, 1);

        var frames = new List<JsonElement>();
        do frames.Add(await aliceAgain.ReceiveAsync()); while (frames[^1].Type() != "joined");
        var joined = frames[^1].Data();
        Assert.False(joined.Bool("recovered"));
        Assert.Equal(6, joined.Long("offset"));
        // What is still in history comes first, in order, and nothing older than it.
        Assert.Equal([4L, 5L, 6L], frames[..^1].Select(f => f.Data().Long("offset")));
        await alice.DisposeAsync();
    }

    [Fact]
    public async Task A_client_with_a_position_in_another_epoch_gets_no_replay_and_is_told_it_did_not_recover()
    {
        var room = RoomsHostFixture.NewRoom("epoch");
        await using var publisher = await Connect(NewUser("pub"));
        await publisher.JoinAsync(room);
        await publisher.PublishAsync(room, 1);
        await using var alice = await Connect(NewUser("alice"));

        await alice.SendJoinAsync(room, "an-epoch-long-gone", 0);

        var joined = await alice.ReceiveAsync();
        Assert.Equal("joined", joined.Type());
        Assert.Equal(1, joined.Data().Long("offset"));
        Assert.False(joined.Data().Bool("recovered"));
    }

    [Fact]
    public async Task A_client_already_up_to_date_recovers_with_nothing_to_replay()
    {
        var room = RoomsHostFixture.NewRoom("uptodate");
        await using var publisher = await Connect(NewUser("pub"));
        var epoch = (await publisher.JoinAsync(room)).Str("epoch");
        await publisher.PublishAsync(room, 1);
        await using var alice = await Connect(NewUser("alice"));

        await alice.SendJoinAsync(room, epoch, 1);

        var joined = await alice.ReceiveAsync();
        Assert.Equal("joined", joined.Type());
        Assert.True(joined.Data().Bool("recovered"));
    }

    // ---------------- back-end HTTP API ----------------

    [Fact]
    public async Task The_back_end_publishes_to_a_room_with_a_scoped_token_and_members_receive_it()
    {
        var room = RoomsHostFixture.NewRoom("api");
        var backend = NewUser("backend");
        await using var alice = await Connect(NewUser("alice"));
        var epoch = (await alice.JoinAsync(room)).Str("epoch");

        using var response = await Api(HttpMethod.Post, "/api/publish", ScopedToken(backend), new { room, payload = new { alert = "fire" } });

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(1, (await Body(response)).Long("offset"));
        var message = (await alice.MessagesAsync(1))[0];
        Assert.Equal(1, message.Long("offset"));
        Assert.Equal(epoch, message.Str("epoch"));
        Assert.Equal(backend, message.Str("from"));
        Assert.Equal("""{"alert":"fire"}""", message.GetProperty("payload").GetRawText());
    }

    [Fact]
    public async Task The_back_end_publishes_with_the_api_key()
    {
        var room = RoomsHostFixture.NewRoom("apikey");
        await using var alice = await Connect(NewUser("alice"));
        await alice.JoinAsync(room);
        await alice.PublishAsync(room, "first");

        using var response = await Api(HttpMethod.Post, "/api/publish", body: new { room, payload = "second" }, apiKey: RoomsHostFixture.ApiKey);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(2, (await Body(response)).Long("offset"));
        var messages = await alice.MessagesAsync(2);
        Assert.Equal("server", messages[1].Str("from"));
        Assert.Equal(2, messages[1].Long("offset"));
    }

    [Fact]
    public async Task The_back_end_sends_to_a_user_and_learns_how_many_connections_it_reached()
    {
        var bobUser = NewUser("bob");
        await using var bobPhone = await Connect(bobUser);
        await using var bobLaptop = await Connect(bobUser);

        using var response = await Api(HttpMethod.Post, "/api/publish", body: new { user = bobUser, payload = new { n = 1 } }, apiKey: RoomsHostFixture.ApiKey);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(2, (await Body(response)).GetProperty("delivered").GetInt32());
        foreach (var bob in new[] { bobPhone, bobLaptop })
        {
            var direct = (await bob.ReceiveAsync("direct")).Data();
            Assert.Equal("server", direct.Str("from"));
            Assert.Equal("""{"n":1}""", direct.GetProperty("payload").GetRawText());
        }
    }

    [Theory]
    [InlineData("malformed JSON", """{"room":"r","payload":""")]
    [InlineData("not an object", """[1,2]""")]
    [InlineData("both room and user", """{"room":"r","user":"u","payload":1}""")]
    [InlineData("neither room nor user", """{"payload":1}""")]
    [InlineData("bad room name", """{"room":"no spaces allowed","payload":1}""")]
    [InlineData("room name too long", """{"room":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","payload":1}""")]
    [InlineData("empty user", """{"user":"","payload":1}""")]
    [InlineData("missing payload", """{"room":"r"}""")]
    [InlineData("empty body", "")]
    public async Task A_publish_with_a_bad_body_is_a_bad_request(string why, string body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/publish")
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("X-Api-Key", RoomsHostFixture.ApiKey);

        using var response = await fixture.Host.Http.SendAsync(request);

        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{why}: got {(int)response.StatusCode}");
    }

    [Theory]
    [InlineData("POST", "/api/publish")]
    [InlineData("GET", "/api/rooms/lobby")]
    [InlineData("GET", "/api/users/alice")]
    public async Task The_api_without_credentials_is_unauthorized(string method, string path)
    {
        using var response = await Api(new HttpMethod(method), path, body: method == "POST" ? new { room = "lobby", payload = 1 } : null);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Theory]
    [InlineData("POST", "/api/publish")]
    [InlineData("GET", "/api/rooms/lobby")]
    [InlineData("GET", "/api/users/alice")]
    public async Task The_api_with_a_token_lacking_the_publish_scope_is_forbidden(string method, string path)
    {
        var token = TestTokens.Valid(NewUser("plain"));

        using var response = await Api(new HttpMethod(method), path, token, method == "POST" ? new { room = "lobby", payload = 1 } : null);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    [Fact]
    public async Task The_api_with_a_wrong_key_is_unauthorized()
    {
        using var response = await Api(HttpMethod.Post, "/api/publish", body: new { room = "lobby", payload = 1 }, apiKey: "not-the-key");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task The_api_with_a_forged_token_is_unauthorized()
    {
        using var response = await Api(HttpMethod.Post, "/api/publish", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", new { room = "lobby", payload = 1 });

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Room_presence_lists_members_offset_and_epoch()
    {
        var room = RoomsHostFixture.NewRoom("info");
        await using var alice = await Connect(NewUser("alice"));
        await using var bob = await Connect(NewUser("bob"));
        var epoch = (await alice.JoinAsync(room)).Str("epoch");
        await bob.JoinAsync(room);
        await alice.PublishAsync(room, 1);
        await alice.PublishAsync(room, 2);

        using var response = await Api(HttpMethod.Get, $"/api/rooms/{room}", apiKey: RoomsHostFixture.ApiKey);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await Body(response);
        Assert.Equal(room, body.Str("room"));
        Assert.Equal([alice.User, bob.User], body.Strings("members"));
        Assert.Equal(2, body.Long("offset"));
        Assert.Equal(epoch, body.Str("epoch"));
    }

    [Fact]
    public async Task Room_presence_of_a_bad_room_name_is_a_bad_request()
    {
        using var response = await Api(HttpMethod.Get, "/api/rooms/bad%20room", apiKey: RoomsHostFixture.ApiKey);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task User_status_tells_online_connections_and_rooms()
    {
        var room = RoomsHostFixture.NewRoom("status");
        var bobUser = NewUser("bob");
        await using var bobPhone = await Connect(bobUser);
        await using var bobLaptop = await Connect(bobUser);
        await bobPhone.JoinAsync(room);

        using var response = await Api(HttpMethod.Get, $"/api/users/{bobUser}", ScopedToken(NewUser("backend")));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await Body(response);
        Assert.Equal(bobUser, body.Str("user"));
        Assert.True(body.Bool("online"));
        Assert.Equal(2, body.GetProperty("connections").GetInt32());
        Assert.Equal([room], body.Strings("rooms"));
    }

    [Fact]
    public async Task User_status_of_someone_never_seen_is_offline()
    {
        var ghost = NewUser("ghost");

        using var response = await Api(HttpMethod.Get, $"/api/users/{ghost}", apiKey: RoomsHostFixture.ApiKey);

        var body = await Body(response);
        Assert.Equal(ghost, body.Str("user"));
        Assert.False(body.Bool("online"));
        Assert.Equal(0, body.GetProperty("connections").GetInt32());
        Assert.Empty(body.Strings("rooms"));
    }

    [Fact]
    public async Task User_status_follows_leaves_and_disconnects()
    {
        var room = RoomsHostFixture.NewRoom("status");
        var bobUser = NewUser("bob");
        var bob = await Connect(bobUser);
        await bob.JoinAsync(room);
        await bob.SendAsync(new { type = "leave", id = "l1", data = new { room } });
        await bob.ReceiveAsync("left", "l1");

        var afterLeave = await UserStatus(bobUser);
        Assert.True(afterLeave.Bool("online"));
        Assert.Empty(afterLeave.Strings("rooms"));

        await bob.CloseAsync();
        await Eventually.HoldsAsync(async () => Assert.False((await UserStatus(bobUser)).Bool("online")));
        await bob.DisposeAsync();
    }

    [Fact]
    public async Task A_receive_only_connection_gets_room_messages_but_cannot_publish_or_send()
    {
        var room = RoomsHostFixture.NewRoom("readonly");
        await using var reader = await fixture.Host.ConnectAuthenticatedAsync(NewUser("reader"), route: "notifications", autoPong: true);
        await reader.JoinAsync(room);

        using var response = await Api(HttpMethod.Post, "/api/publish", body: new { room, payload = "news" }, apiKey: RoomsHostFixture.ApiKey);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal("news", (await reader.MessagesAsync(1))[0].GetProperty("payload").GetString());

        await ExpectError(reader, await reader.SendPublishAsync(room, "mine"), "forbidden");
        await reader.SendAsync(new { type = "send", id = "s1", data = new { user = "anyone", payload = 1 } });
        await ExpectError(reader, "s1", "forbidden");
    }

    // ---------------- helpers ----------------

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
        return await fixture.Host.Http.SendAsync(request);
    }

    private static async Task<JsonElement> Body(HttpResponseMessage response) =>
        await response.Content.ReadFromJsonAsync<JsonElement>();
}
