using System.Net;
using System.Net.Http.Headers;
using Broker.Tests.Integration;

namespace Broker.Tests.Sse;

/// <summary>PROTOCOL §9.4, the stream's handshake: the WebSocket endpoint's checks, as HTTP statuses with the error body, before the stream starts.</summary>
public sealed class SseEndpointTests(SseHostFixture fixture) : IClassFixture<SseHostFixture>
{
    private BrokerTestHost Host => fixture.Host;

    [Fact]
    public async Task Bearer_token_opens_a_stream_whose_welcome_names_an_unguessable_session()
    {
        await using var client = await SseClient.ConnectAsync(Host, "sse-alice");

        Assert.Equal("sse-alice", client.User);
        var session = client.Session;
        // base64url, at least 128 random bits (PROTOCOL §9.4)
        Assert.Matches("^[A-Za-z0-9_-]+$", session);
        Assert.True(session.Length * 6 >= 128, session);
        Assert.NotEqual(session, client.Welcome.Str("connection"));
        Assert.True(client.Welcome.GetProperty("heartbeat").Long("interval") > 0);

        var headers = client.Response;
        Assert.Equal("text/event-stream", headers.Content.Headers.ContentType?.MediaType);
        Assert.True(headers.Headers.CacheControl?.NoCache, "Cache-Control: no-cache");
        Assert.Equal("no", Assert.Single(headers.Headers.GetValues("X-Accel-Buffering")));
    }

    [Fact]
    public async Task Two_streams_of_one_user_get_different_sessions()
    {
        await using var first = await SseClient.ConnectAsync(Host, "sse-twice");
        await using var second = await SseClient.ConnectAsync(Host, "sse-twice");

        Assert.NotEqual(first.Session, second.Session);
    }

    [Fact]
    public async Task Ticket_opens_a_stream_once_and_a_reused_ticket_is_401()
    {
        var (ticket, _) = await TicketTests.IssueTicketAsync(Host, TestTokens.Valid("sse-ticket"));

        await using var client = await SseClient.OpenAsync(Host, "chat", SseClient.StreamRequest("chat", query: "ticket=" + ticket),
            postToken: TestTokens.Valid("sse-ticket"));
        Assert.Equal("sse-ticket", client.User);

        await AssertRefusedAsync(SseClient.StreamRequest("chat", query: "ticket=" + ticket), HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Missing_or_bad_credentials_on_an_authenticated_route_are_401_with_the_error_body()
    {
        await AssertRefusedAsync(SseClient.StreamRequest("chat"), HttpStatusCode.Unauthorized);
        await AssertRefusedAsync(SseClient.StreamRequest("chat", bearer: "not-a-jwt"), HttpStatusCode.Unauthorized);
        await AssertRefusedAsync(SseClient.StreamRequest("chat", bearer: TestTokens.Valid("sse-expired", lifetime: TimeSpan.FromMinutes(-5))),
            HttpStatusCode.Unauthorized);
        await AssertRefusedAsync(SseClient.StreamRequest("chat", query: "ticket=forged"), HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Unknown_route_is_404()
    {
        await AssertRefusedAsync(SseClient.StreamRequest("nope", bearer: TestTokens.Valid("sse-404")), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Get_without_accept_event_stream_is_406()
    {
        await AssertRefusedAsync(SseClient.StreamRequest("chat", bearer: TestTokens.Valid("sse-406"), accept: null), HttpStatusCode.NotAcceptable);
        await AssertRefusedAsync(SseClient.StreamRequest("chat", bearer: TestTokens.Valid("sse-406"), accept: "text/html"), HttpStatusCode.NotAcceptable);
    }

    [Fact]
    public async Task Origin_outside_the_routes_list_is_403_and_an_allowed_one_is_named_for_cors()
    {
        var bad = SseClient.StreamRequest(SseHostFixture.GuardedRoute, bearer: TestTokens.Valid("sse-origin"));
        bad.Headers.Add("Origin", "https://evil.example");
        await AssertRefusedAsync(bad, HttpStatusCode.Forbidden);

        var good = SseClient.StreamRequest(SseHostFixture.GuardedRoute, bearer: TestTokens.Valid("sse-origin"));
        good.Headers.Add("Origin", SseHostFixture.GoodOrigin);
        await using var client = await SseClient.OpenAsync(Host, SseHostFixture.GuardedRoute, good, TestTokens.Valid("sse-origin"));
        Assert.Equal(SseHostFixture.GoodOrigin, Assert.Single(client.Response.Headers.GetValues("Access-Control-Allow-Origin")));
    }

    [Fact]
    public async Task Anonymous_route_needs_no_credentials_on_the_stream_or_the_post()
    {
        await using var client = await SseClient.OpenAsync(Host, SseHostFixture.AnonymousRoute,
            SseClient.StreamRequest(SseHostFixture.AnonymousRoute), postToken: null);

        Assert.StartsWith("anon-", client.User);
        await client.PostAsync(SseClient.Envelope("ping", "p1"));
        Assert.Equal("pong", (await client.ReceiveAsync("pong", "p1")).Type());
    }

    [Fact]
    public async Task Rooms_query_over_the_room_cap_is_400_and_burns_no_ticket()
    {
        var (ticket, _) = await TicketTests.IssueTicketAsync(Host, TestTokens.Valid("sse-cap"));
        var rooms = string.Join(",", Enumerable.Range(0, 101).Select(i => "r" + i));

        await AssertRefusedAsync(SseClient.StreamRequest("chat", query: $"ticket={ticket}&rooms={rooms}"), HttpStatusCode.BadRequest);

        await using var client = await SseClient.OpenAsync(Host, "chat", SseClient.StreamRequest("chat", query: "ticket=" + ticket), TestTokens.Valid("sse-cap"));
        Assert.Equal("sse-cap", client.User);
    }

    [Fact]
    public async Task Stream_and_posts_work_over_http2()
    {
        await using var client = await SseClient.ConnectAsync(Host, "sse-h2", version: HttpVersion.Version20, baseUri: fixture.Http2BaseUri);

        Assert.Equal(HttpVersion.Version20, client.Response.Version);
        await client.JoinAsync("sse-h2-room");
        var offset = await client.PublishAsync("sse-h2-room", new JsonObject { ["text"] = "over h2" });
        var message = await client.ReceiveAsync("message");
        Assert.Equal(offset, message.Data().Long("offset"));
    }

    [Fact]
    public async Task Ending_the_stream_ends_the_session()
    {
        var client = await SseClient.ConnectAsync(Host, "sse-leaver");
        var session = client.Session;
        var before = (await Host.StatsAsync()).Connections;
        await client.DisposeAsync();

        await Eventually.TrueAsync(async () => (await Host.StatsAsync()).Connections < before, "the session's connection stayed");
        using var post = new HttpRequestMessage(HttpMethod.Post, $"sse/chat/{session}") { Content = new StringContent("""{"type":"ping"}""") };
        post.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TestTokens.Valid("sse-leaver"));
        using var response = await Host.Http.SendAsync(post);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    private async Task AssertRefusedAsync(HttpRequestMessage request, HttpStatusCode expected)
    {
        using var http = SseClient.NewHttpClient(Host);
        using (request)
        using (var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).OrTimeout())
        {
            var body = await response.Content.ReadAsStringAsync().OrTimeout();
            Assert.True(response.StatusCode == expected, $"expected {(int)expected}, got {(int)response.StatusCode}: {body}");
            Assert.False(string.IsNullOrEmpty(Frame.Parse(body).GetProperty("error").GetString()), body);
        }
    }
}
