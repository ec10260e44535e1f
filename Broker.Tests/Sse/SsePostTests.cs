using System.Net;

namespace Broker.Tests.Sse;

/// <summary>PROTOCOL §9.4, <c>POST /sse/{route}/{session}</c>: whose session it is, what a body may be, and that each envelope is a WebSocket frame.</summary>
public sealed class SsePostTests(SseHostFixture fixture) : IClassFixture<SseHostFixture>
{
    private BrokerTestHost Host => fixture.Host;

    [Fact]
    public async Task Post_with_another_users_token_is_404_and_with_none_401()
    {
        await using var client = await SseClient.ConnectAsync(Host, "post-owner");

        await AssertStatusAsync(client.PostRawAsync("""{"type":"ping"}""", token: TestTokens.Valid("post-intruder")), HttpStatusCode.NotFound);
        client.Token = null;
        await AssertStatusAsync(client.PostRawAsync("""{"type":"ping"}"""), HttpStatusCode.Unauthorized);
        await AssertStatusAsync(client.PostRawAsync("""{"type":"ping"}""", token: "garbage"), HttpStatusCode.Unauthorized);

        // The owner's session was not touched by any of it.
        client.Token = TestTokens.Valid("post-owner");
        await client.PostAsync(SseClient.Envelope("ping", "still-mine"));
        await client.ReceiveAsync("pong", "still-mine");
    }

    [Fact]
    public async Task Post_to_an_unknown_session_or_on_another_route_is_404()
    {
        await using var client = await SseClient.ConnectAsync(Host, "post-unknown");

        await AssertStatusAsync(client.PostRawAsync("""{"type":"ping"}""", session: "AAAAAAAAAAAAAAAAAAAAAAAA"), HttpStatusCode.NotFound);
        using var otherRoute = new HttpRequestMessage(HttpMethod.Post, $"sse/notifications/{client.Session}") { Content = new StringContent("""{"type":"ping"}""") };
        otherRoute.Headers.Authorization = new("Bearer", client.Token);
        using var response = await Host.Http.SendAsync(otherRoute);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Theory]
    [InlineData("not json", "bad_request")]
    [InlineData("", "bad_request")]
    [InlineData("[]", "bad_request")]
    [InlineData("""{"type":"ping"} {"type":"ping"}""", "bad_request")]
    [InlineData("[{\"type\":\"ping\"}", "bad_request")]
    public async Task Malformed_body_is_400_with_the_error_body(string body, string code)
    {
        await using var client = await SseClient.ConnectAsync(Host, "post-malformed");

        using var response = await client.PostRawAsync(body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode}: {text}");
        Assert.Equal(code, Frame.Parse(text).Str("code"));
        await client.PostAsync(SseClient.Envelope("ping", "after-400"));
        await client.ReceiveAsync("pong", "after-400");
    }

    [Fact]
    public async Task Envelope_over_the_message_limit_is_400_too_large_even_inside_a_batch()
    {
        await using var client = await SseClient.ConnectAsync(Host, "post-big");
        await client.JoinAsync("post-big-room");
        var big = SseClient.Envelope("publish", "big", new JsonObject { ["room"] = "post-big-room", ["payload"] = new string('x', 70_000) });

        using var single = await client.PostRawAsync(big.ToJsonString());
        Assert.Equal(HttpStatusCode.BadRequest, single.StatusCode);
        Assert.Equal("too_large", Frame.Parse(await single.Content.ReadAsStringAsync()).Str("code"));

        // Nothing of a refused batch is applied: the small publish before the big one never happens.
        var batch = new JsonArray(SseClient.Envelope("publish", "small", new JsonObject { ["room"] = "post-big-room", ["payload"] = 1 }), big.DeepClone());
        using var batched = await client.PostRawAsync(batch.ToJsonString());
        Assert.Equal(HttpStatusCode.BadRequest, batched.StatusCode);
        await client.PostAsync(SseClient.Envelope("ping", "after-big"));
        var next = await client.ReceiveAsync();
        Assert.True(next.Type() == "pong" && next.Id() == "after-big", next.ToString());
    }

    [Fact]
    public async Task Batch_is_handled_in_order_with_each_reply_carrying_its_id()
    {
        await using var client = await SseClient.ConnectAsync(Host, "post-batch");

        await client.PostAsync(new JsonArray(
            SseClient.Envelope("join", "j", new JsonObject { ["room"] = "post-batch-room" }),
            SseClient.Envelope("publish", "p1", new JsonObject { ["room"] = "post-batch-room", ["payload"] = 1 }),
            SseClient.Envelope("publish", "p2", new JsonObject { ["room"] = "post-batch-room", ["payload"] = 2 }),
            SseClient.Envelope("ping", "q")));

        var replies = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            var frame = await client.ReceiveAsync();
            replies.Add(frame.Type() == "message" ? $"message {frame.Data().GetProperty("payload").GetInt32()}" : $"{frame.Type()} {frame.Id()}");
        }
        // Every reply is there with its id, and the room's replies keep the batch's order (the ping's
        // pong may pass them: the session answers pings itself, as on WebSocket).
        var order = string.Join(", ", replies);
        Assert.Equal(["ack p1", "ack p2", "joined j", "message 1", "message 2", "pong q"], replies.Order().ToArray());
        Assert.True(replies.IndexOf("joined j") < replies.IndexOf("ack p1"), order);
        Assert.True(replies.IndexOf("ack p1") < replies.IndexOf("ack p2"), order);
        Assert.True(replies.IndexOf("message 1") < replies.IndexOf("message 2"), order);
    }

    [Fact]
    public async Task Bad_envelope_in_a_batch_gets_an_error_event_with_its_id_and_the_others_are_served()
    {
        await using var client = await SseClient.ConnectAsync(Host, "post-bad-envelope");

        await client.PostRawAsync("""[{"type":"nope","id":"bad"},{"type":"join","id":"room!","data":{"room":"no spaces allowed"}},42,{"type":"ping","id":"good"}]""");

        var unknown = await client.ReceiveAsync();
        Assert.Equal(("error", "bad", "bad_request"), (unknown.Type(), unknown.Id(), unknown.ErrorCode()));
        var badRoom = await client.ReceiveAsync();
        Assert.Equal(("error", "room!", "bad_request"), (badRoom.Type(), badRoom.Id(), badRoom.ErrorCode()));
        var notObject = await client.ReceiveAsync();
        Assert.Equal(("error", "bad_request"), (notObject.Type(), notObject.ErrorCode()));
        var pong = await client.ReceiveAsync();
        Assert.Equal(("pong", "good"), (pong.Type(), pong.Id()));
    }

    [Fact]
    public async Task Auth_envelope_refreshes_the_token_for_the_same_user()
    {
        await using var client = await SseClient.ConnectAsync(Host, "post-refresh");
        var fresh = TestTokens.Valid("post-refresh", lifetime: TimeSpan.FromHours(2));

        await client.PostAsync(SseClient.Envelope("auth", "r", new JsonObject { ["token"] = fresh }));

        var refreshed = await client.ReceiveAsync("refreshed", "r");
        Assert.Equal(TestTokens.ExpiresAtMs(fresh), refreshed.Data().Long("expiresAt"));
    }

    [Fact]
    public async Task Receive_only_route_refuses_a_posted_publish_with_forbidden()
    {
        await using var client = await SseClient.ConnectAsync(Host, "post-readonly", route: "notifications");

        await client.PostAsync(SseClient.Envelope("publish", "p", new JsonObject { ["room"] = "r", ["payload"] = 1 }));

        var error = await client.ReceiveAsync("error", "p");
        Assert.Equal("forbidden", error.ErrorCode());
    }

    [Fact]
    public async Task Cross_origin_post_preflight_is_answered_only_for_an_allowed_origin()
    {
        using var good = new HttpRequestMessage(HttpMethod.Options, $"sse/{SseHostFixture.GuardedRoute}/any-session");
        good.Headers.Add("Origin", SseHostFixture.GoodOrigin);
        using var goodResponse = await Host.Http.SendAsync(good);
        Assert.Equal(HttpStatusCode.NoContent, goodResponse.StatusCode);
        Assert.Contains("Authorization", string.Join(",", goodResponse.Headers.GetValues("Access-Control-Allow-Headers")));

        using var bad = new HttpRequestMessage(HttpMethod.Options, $"sse/{SseHostFixture.GuardedRoute}/any-session");
        bad.Headers.Add("Origin", "https://evil.example");
        using var badResponse = await Host.Http.SendAsync(bad);
        Assert.Equal(HttpStatusCode.Forbidden, badResponse.StatusCode);
    }

    private static async Task AssertStatusAsync(Task<HttpResponseMessage> send, HttpStatusCode expected)
    {
        using var response = await send;
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"expected {(int)expected}, got {(int)response.StatusCode}: {body}");
        Assert.False(string.IsNullOrEmpty(Frame.Parse(body).GetProperty("error").GetString()), body);
    }
}
