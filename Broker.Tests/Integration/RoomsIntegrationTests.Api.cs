using System.Net;
using System.Text;

namespace Broker.Tests.Integration;

public sealed partial class RoomsIntegrationTests
{
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

        using var response = await _fixture.Host.Http.SendAsync(request);

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
        await using var reader = await _fixture.Host.ConnectAuthenticatedAsync(NewUser("reader"), route: "notifications", autoPong: true);
        await reader.JoinAsync(room);

        using var response = await Api(HttpMethod.Post, "/api/publish", body: new { room, payload = "news" }, apiKey: RoomsHostFixture.ApiKey);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal("news", (await reader.MessagesAsync(1))[0].GetProperty("payload").GetString());

        await ExpectError(reader, await reader.SendPublishAsync(room, "mine"), "forbidden");
        await reader.SendAsync(new { type = "send", id = "s1", data = new { user = "anyone", payload = 1 } });
        await ExpectError(reader, "s1", "forbidden");
    }
}
