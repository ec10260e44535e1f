using System.Text;
using System.Text.Json;
using Akka.Actor;
using Akka.TestKit;
using Broker.Actors.Auth;
using Broker.Actors.Connections;
using Broker.Contracts.Protocol;
using Broker.TestKit;
using Xunit;
using Xunit.Abstractions;
using static Broker.Actors.Connections.ConnectionMessages;
using static Broker.Contracts.Cluster.ConnectionCommands;
using static Broker.TestKit.ConnectionSpecDefaults;

namespace Broker.Tests.Actors;

/// <summary>
/// One <see cref="ConnectionActor"/> driven through a <see cref="ProbeTransport"/>, with a
/// <see cref="TestProbe"/> as its parent standing in for the supervisor (heartbeat ticks and the
/// auth deadline are sent by hand) and virtual time for token expiry.
/// </summary>
public sealed class ConnectionActorSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(200);

    private static readonly ConnectionSettings Settings = new(
        NodeName: "node-a",
        HeartbeatInterval: TimeSpan.FromSeconds(1),
        HeartbeatTimeout: TimeSpan.FromMilliseconds(500),
        AuthTimeout: TimeSpan.FromSeconds(10),
        MaxRoomsPerConnection: 100);

    private readonly FakeTokenValidator _tokens = new();
    private readonly DateTimeOffset _inAnHour;

    public ConnectionActorSpecs(ITestOutputHelper output) : base(VirtualTime.Config, output: output)
    {
        _inAnHour = Sys.Scheduler.Now + TimeSpan.FromHours(1);
        _tokens.Accept("alice-token", "alice", _inAnHour);
    }

    // ---- harness ----

    private sealed record Connection(IActorRef Actor, ProbeTransport Transport, TestProbe Parent);

    private async Task<Connection> ConnectAsync(RoutePolicy route, AuthenticatedUser? user = null, int capacity = int.MaxValue, string id = "c1")
    {
        var transport = new ProbeTransport(CreateTestProbe("outbound"), CreateTestProbe("stream"), capacity);
        var parent = CreateTestProbe("parent");
        var actor = parent.ChildActorOf(ConnectionActor.Props(new ConnectionInfo(id, route, "127.0.0.1", user), transport, Settings, _tokens), "c-" + id);
        await transport.ConnectStreamAsync(Timeout);
        return new Connection(actor, transport, parent);
    }

    /// <summary>A connection on <c>chat</c> that authenticated as alice with a first-message auth frame.</summary>
    private async Task<Connection> ConnectAsAliceAsync(int capacity = int.MaxValue)
    {
        var c = await ConnectAsync(Chat, capacity: capacity);
        await c.Transport.SendTextAsync("""{"type":"auth","id":"a1","data":{"token":"alice-token"}}""", Timeout);
        await c.Transport.ExpectFrameAsync(FrameTypes.Welcome, Timeout);
        return c;
    }

    private static JsonElement Data(JsonElement frame) => frame.GetProperty("data");

    private static string? Str(JsonElement e, string name) => e.GetProperty(name).GetString();

    private static async Task ExpectErrorAsync(ProbeTransport transport, string code, string? id)
    {
        var error = await transport.ExpectFrameAsync(FrameTypes.Error, Timeout);
        Assert.Equal(code, Str(Data(error), "code"));
        Assert.False(string.IsNullOrEmpty(Str(Data(error), "message")));
        if (id is null) Assert.False(error.TryGetProperty("id", out _));
        else Assert.Equal(id, Str(error, "id"));
    }

    private async Task ExpectClosedAndStoppedAsync(Connection c, Close close, bool discardQueued = false)
    {
        Watch(c.Actor);
        var closed = await c.Transport.ExpectClosedAsync(Timeout);
        Assert.Equal(new ProbeTransport.Closed(close, discardQueued), closed);
        await ExpectTerminatedAsync(c.Actor, Timeout);
    }

    private async Task ExpectStillServingAsync(Connection c)
    {
        await c.Transport.SendTextAsync("""{"type":"ping","id":"still-there"}""", Timeout);
        var pong = await c.Transport.ExpectFrameAsync("pong", Timeout);
        Assert.Equal("still-there", Str(pong, "id"));
    }

    // ---- authentication ----

    [Fact]
    public async Task Anonymous_route_connection_gets_welcome_first()
    {
        var c = await ConnectAsync(Lobby, id: "c42");

        var welcome = await c.Transport.ExpectFrameAsync(Timeout);
        Assert.Equal(FrameTypes.Welcome, Str(welcome, "type"));
        var data = Data(welcome);
        Assert.Equal("c42", Str(data, "connection"));
        Assert.Equal("anon-c42", Str(data, "user"));
        Assert.Equal("node-a", Str(data, "node"));
        Assert.Equal(1000, data.GetProperty("heartbeat").GetProperty("interval").GetInt64());
        Assert.Equal(500, data.GetProperty("heartbeat").GetProperty("timeout").GetInt64());
        await c.Parent.ExpectMsgAsync(new ConnectionMessages.Authenticated("anon-c42"), Timeout);
    }

    [Fact]
    public async Task Anonymous_welcome_says_the_credential_never_expires_with_a_null_expiresAt()
    {
        var c = await ConnectAsync(Lobby);

        var welcome = await c.Transport.ExpectFrameAsync(FrameTypes.Welcome, Timeout);
        // PROTOCOL §3: "expiresAt":<unix ms or null>; the field is part of the shape.
        Assert.True(Data(welcome).TryGetProperty("expiresAt", out var expiresAt), welcome.ToString());
        Assert.Equal(JsonValueKind.Null, expiresAt.ValueKind);
    }

    [Fact]
    public async Task Ticket_authenticated_connection_gets_welcome_without_an_auth_frame()
    {
        var c = await ConnectAsync(Chat, new AuthenticatedUser("bob", _inAnHour));

        var welcome = await c.Transport.ExpectFrameAsync(FrameTypes.Welcome, Timeout);
        Assert.Equal("bob", Str(Data(welcome), "user"));
        Assert.Equal(_inAnHour.ToUnixTimeMilliseconds(), Data(welcome).GetProperty("expiresAt").GetInt64());
    }

    [Fact]
    public async Task First_message_auth_with_a_valid_token_gets_welcome_with_the_user()
    {
        var c = await ConnectAsync(Chat);

        await c.Transport.SendTextAsync("""{"type":"auth","id":"a1","data":{"token":"alice-token"}}""", Timeout);

        var welcome = await c.Transport.ExpectFrameAsync(FrameTypes.Welcome, Timeout);
        Assert.Equal("alice", Str(Data(welcome), "user"));
        Assert.Equal("c1", Str(Data(welcome), "connection"));
        Assert.Equal(_inAnHour.ToUnixTimeMilliseconds(), Data(welcome).GetProperty("expiresAt").GetInt64());
        await c.Parent.ExpectMsgAsync(new ConnectionMessages.Authenticated("alice"), Timeout);
        await ExpectStillServingAsync(c);
    }

    [Fact]
    public async Task Bad_token_gets_error_unauthorized_then_close_4401()
    {
        var c = await ConnectAsync(Chat);

        await c.Transport.SendAsync(Text("""{"type":"auth","id":"a1","data":{"token":"forged"}}"""));

        await ExpectErrorAsync(c.Transport, ErrorCodes.Unauthorized, "a1");
        await ExpectClosedAndStoppedAsync(c, Close.Unauthorized);
    }

    [Theory]
    [InlineData("""{"type":"ping","id":"p1"}""", "p1")]
    [InlineData("""{"type":"join","id":"j1","data":{"room":"general"}}""", "j1")]
    [InlineData("""{"type":"auth","id":"a1"}""", "a1")]
    [InlineData("""not json""", null)]
    public async Task Any_first_frame_other_than_auth_gets_error_unauthorized_then_close_4401(string frame, string? id)
    {
        var c = await ConnectAsync(Chat);

        await c.Transport.SendAsync(Text(frame));

        await ExpectErrorAsync(c.Transport, ErrorCodes.Unauthorized, id);
        await ExpectClosedAndStoppedAsync(c, Close.Unauthorized);
    }

    [Fact]
    public async Task Binary_first_frame_gets_error_unauthorized_then_close_4401()
    {
        var c = await ConnectAsync(Chat);

        await c.Transport.SendAsync(InboundFrame.Binary);

        await ExpectErrorAsync(c.Transport, ErrorCodes.Unauthorized, null);
        await ExpectClosedAndStoppedAsync(c, Close.Unauthorized);
    }

    [Fact]
    public async Task Auth_deadline_closes_an_unauthenticated_connection_with_4401_auth_timeout()
    {
        var c = await ConnectAsync(Chat);

        c.Actor.Tell(AuthDeadlineReached.Instance, c.Parent.Ref);

        await ExpectClosedAndStoppedAsync(c, Close.AuthTimeout);
    }

    [Fact]
    public async Task Auth_deadline_is_ignored_once_authenticated()
    {
        var c = await ConnectAsAliceAsync();

        c.Actor.Tell(AuthDeadlineReached.Instance, c.Parent.Ref);

        await ExpectStillServingAsync(c);
    }

    [Fact]
    public async Task Unauthenticated_connection_receives_no_deliveries()
    {
        var c = await ConnectAsync(Chat);

        c.Actor.Tell(new Deliver(ServerFrames.Ping), c.Parent.Ref);
        c.Actor.Tell(new Deliver(Encoding.UTF8.GetBytes("""{"type":"message","data":{"room":null,"offset":1,"epoch":null,"from":"x","payload":1}}""")), c.Parent.Ref);
        await c.Transport.SendTextAsync("""{"type":"auth","data":{"token":"alice-token"}}""", Timeout);

        // welcome must be the first frame the client sees (PROTOCOL §3).
        var first = await c.Transport.ExpectFrameAsync(Timeout);
        Assert.Equal(FrameTypes.Welcome, Str(first, "type"));
    }

    // ---- heartbeat ----

    [Fact]
    public async Task Silent_connection_gets_a_ping_on_the_first_tick_and_is_closed_at_the_second()
    {
        var c = await ConnectAsAliceAsync();

        c.Actor.Tell(HeartbeatTick.Instance, c.Parent.Ref);
        await c.Transport.ExpectFrameAsync("ping", Timeout);

        Sys.Advance(Settings.HeartbeatInterval); // the supervisor's ticks are an interval apart
        c.Actor.Tell(HeartbeatTick.Instance, c.Parent.Ref);
        await ExpectClosedAndStoppedAsync(c, Close.HeartbeatTimeout);
    }

    [Fact]
    public async Task Tick_queued_right_behind_the_one_that_pinged_does_not_close_the_connection()
    {
        var c = await ConnectAsAliceAsync();

        // Two ticks with no time between them: the node was stalled and both queued up.
        c.Actor.Tell(HeartbeatTick.Instance, c.Parent.Ref);
        c.Actor.Tell(HeartbeatTick.Instance, c.Parent.Ref);
        await c.Transport.ExpectFrameAsync("ping", Timeout);
        await c.Transport.SendTextAsync("""{"type":"pong"}""", Timeout);

        Sys.Advance(Settings.HeartbeatInterval);
        c.Actor.Tell(HeartbeatTick.Instance, c.Parent.Ref);
        await c.Transport.ExpectFrameAsync("ping", Timeout);
        Assert.Null(c.Transport.ClosedWith);
    }

    [Theory]
    [InlineData("""{"type":"pong"}""")]
    [InlineData("""{"type":"ping"}""")]
    [InlineData("""{"type":"nonsense"}""")]
    public async Task Connection_that_sends_any_frame_between_ticks_is_not_closed(string frame)
    {
        var c = await ConnectAsAliceAsync();

        for (var tick = 0; tick < 3; tick++)
        {
            c.Actor.Tell(HeartbeatTick.Instance, c.Parent.Ref);
            await c.Transport.ExpectFrameAsync("ping", Timeout);
            await c.Transport.SendTextAsync(frame, Timeout);
            if (frame != """{"type":"pong"}""") await c.Transport.ExpectFrameAsync(Timeout); // its reply
        }

        await c.Transport.Outbound.ExpectNoMsgAsync(Quiet);
        Assert.Null(c.Transport.ClosedWith);
    }

    // ---- token lifetime ----

    [Fact]
    public async Task Connection_is_closed_with_4401_token_expired_when_its_token_expires()
    {
        _tokens.Accept("short", "alice", Sys.Scheduler.Now + TimeSpan.FromSeconds(60));
        var c = await ConnectAsync(Chat);
        await c.Transport.SendTextAsync("""{"type":"auth","data":{"token":"short"}}""", Timeout);
        await c.Transport.ExpectFrameAsync(FrameTypes.Welcome, Timeout);

        Sys.Advance(TimeSpan.FromSeconds(59));
        await c.Transport.Outbound.ExpectNoMsgAsync(Quiet);

        Sys.Advance(TimeSpan.FromSeconds(2));
        await ExpectClosedAndStoppedAsync(c, Close.TokenExpired);
    }

    [Fact]
    public async Task Ticket_connection_is_closed_when_the_jwt_behind_the_ticket_expires()
    {
        var c = await ConnectAsync(Chat, new AuthenticatedUser("bob", Sys.Scheduler.Now + TimeSpan.FromSeconds(30)));
        await c.Transport.ExpectFrameAsync(FrameTypes.Welcome, Timeout);

        Sys.Advance(TimeSpan.FromSeconds(31));

        await ExpectClosedAndStoppedAsync(c, Close.TokenExpired);
    }

    [Fact]
    public async Task Refresh_for_the_same_user_answers_refreshed_and_moves_the_expiry()
    {
        var now = Sys.Scheduler.Now;
        _tokens.Accept("first", "alice", now + TimeSpan.FromSeconds(60));
        _tokens.Accept("second", "alice", now + TimeSpan.FromSeconds(300));
        var c = await ConnectAsync(Chat);
        await c.Transport.SendTextAsync("""{"type":"auth","data":{"token":"first"}}""", Timeout);
        await c.Transport.ExpectFrameAsync(FrameTypes.Welcome, Timeout);

        await c.Transport.SendTextAsync("""{"type":"auth","id":"r1","data":{"token":"second"}}""", Timeout);
        var refreshed = await c.Transport.ExpectFrameAsync(FrameTypes.Refreshed, Timeout);
        Assert.Equal("r1", Str(refreshed, "id"));
        Assert.Equal((now + TimeSpan.FromSeconds(300)).ToUnixTimeMilliseconds(), Data(refreshed).GetProperty("expiresAt").GetInt64());

        Sys.Advance(TimeSpan.FromSeconds(61));
        await c.Transport.Outbound.ExpectNoMsgAsync(Quiet);
        await ExpectStillServingAsync(c);

        Sys.Advance(TimeSpan.FromSeconds(240));
        await ExpectClosedAndStoppedAsync(c, Close.TokenExpired);
    }

    [Fact]
    public async Task Refresh_for_another_user_gets_error_unauthorized_then_close_4401()
    {
        _tokens.Accept("mallory-token", "mallory", _inAnHour);
        var c = await ConnectAsAliceAsync();

        await c.Transport.SendAsync(Text("""{"type":"auth","id":"r1","data":{"token":"mallory-token"}}"""));

        await ExpectErrorAsync(c.Transport, ErrorCodes.Unauthorized, "r1");
        await ExpectClosedAndStoppedAsync(c, Close.Unauthorized);
    }

    [Fact]
    public async Task Refresh_with_a_bad_token_gets_error_unauthorized_then_close_4401()
    {
        var c = await ConnectAsAliceAsync();

        await c.Transport.SendAsync(Text("""{"type":"auth","id":"r1","data":{"token":"forged"}}"""));

        await ExpectErrorAsync(c.Transport, ErrorCodes.Unauthorized, "r1");
        await ExpectClosedAndStoppedAsync(c, Close.Unauthorized);
    }

    // ---- bad input after auth ----

    [Theory]
    [InlineData("""{"type":"publish","id":"x1","data":{"room":5}}""", "x1")]
    [InlineData("""{"type":"launch","id":"x2"}""", "x2")]
    [InlineData("""{"id":"x3"}""", "x3")]
    [InlineData("""{"type":"join","id":"x4","data":{"room":"has space"}}""", "x4")]
    [InlineData("""{"type":"join","id":"x5","data":"general"}""", "x5")]
    [InlineData("""{"type":"send","id":"x6","data":{"user":"bob"}}""", "x6")]
    [InlineData("""{"type":"ping","id":7}""", null)]
    [InlineData("""{"type":""", null)]
    [InlineData("""[1,2,3]""", null)]
    public async Task Bad_frame_after_auth_gets_bad_request_with_its_id_and_the_connection_stays(string frame, string? id)
    {
        var c = await ConnectAsAliceAsync();

        await c.Transport.SendTextAsync(frame, Timeout);

        await ExpectErrorAsync(c.Transport, ErrorCodes.BadRequest, id);
        Assert.Null(c.Transport.ClosedWith);
        await ExpectStillServingAsync(c);
    }

    [Fact]
    public async Task Binary_frame_after_auth_gets_bad_request_and_the_connection_stays()
    {
        var c = await ConnectAsAliceAsync();

        await c.Transport.SendAsync(InboundFrame.Binary);
        await c.Transport.Stream.ExpectMsgAsync<InboundStream.Ack>(Timeout);

        await ExpectErrorAsync(c.Transport, ErrorCodes.BadRequest, null);
        await ExpectStillServingAsync(c);
    }

    [Fact]
    public async Task Ping_is_answered_with_pong_echoing_the_id()
    {
        var c = await ConnectAsAliceAsync();

        await c.Transport.SendTextAsync("""{"type":"ping","id":"p-1"}""", Timeout);

        var pong = await c.Transport.ExpectFrameAsync("pong", Timeout);
        Assert.Equal("p-1", Str(pong, "id"));
    }

    // ---- limits ----

    [Fact]
    public async Task Rate_limited_frame_gets_error_rate_limited_with_its_id_and_the_connection_stays()
    {
        var c = await ConnectAsAliceAsync();

        await c.Transport.SendAsync(new InboundFrame(InboundKind.RateLimited, Encoding.UTF8.GetBytes("""{"type":"ping","id":"p9"}""")));
        await c.Transport.Stream.ExpectMsgAsync<InboundStream.Ack>(Timeout);

        await ExpectErrorAsync(c.Transport, ErrorCodes.RateLimited, "p9");
        await ExpectStillServingAsync(c);
    }

    [Fact]
    public async Task Flooding_closes_with_1008()
    {
        var c = await ConnectAsAliceAsync();

        await c.Transport.SendAsync(InboundFrame.Flooding);

        await ExpectClosedAndStoppedAsync(c, Close.RateLimit);
    }

    [Fact]
    public async Task Message_over_the_size_limit_closes_with_1009()
    {
        var c = await ConnectAsAliceAsync();

        await c.Transport.SendAsync(InboundFrame.TooBig);

        await ExpectClosedAndStoppedAsync(c, Close.TooBig);
    }

    [Fact]
    public async Task Message_over_the_size_limit_closes_with_1009_even_before_auth()
    {
        var c = await ConnectAsync(Chat);

        await c.Transport.SendAsync(InboundFrame.TooBig);

        await ExpectClosedAndStoppedAsync(c, Close.TooBig);
    }

    [Fact]
    public async Task Invalid_utf8_closes_with_1007()
    {
        var c = await ConnectAsAliceAsync();

        await c.Transport.SendAsync(InboundFrame.InvalidUtf8);

        await ExpectClosedAndStoppedAsync(c, Close.InvalidUtf8);
    }

    [Fact]
    public async Task Delivery_to_a_full_transport_closes_4508_slow_consumer_discarding_the_backlog_and_stops()
    {
        var c = await ConnectAsAliceAsync(capacity: 2); // welcome takes one slot
        c.Actor.Tell(new Deliver(ServerFrames.Ping), c.Parent.Ref);
        await c.Transport.ExpectFrameAsync("ping", Timeout);

        c.Actor.Tell(new Deliver(ServerFrames.Ping), c.Parent.Ref);

        await ExpectClosedAndStoppedAsync(c, Close.SlowConsumer, discardQueued: true);
    }

    [Fact]
    public async Task A_frame_the_room_hub_could_not_queue_closes_4508_slow_consumer_and_stops()
    {
        var c = await ConnectAsAliceAsync();

        c.Actor.Tell(OutboundRefused.Instance); // the hub writes room frames to the socket itself

        await ExpectClosedAndStoppedAsync(c, Close.SlowConsumer, discardQueued: true);
    }

    [Fact]
    public async Task Delivery_after_the_transport_drained_is_sent()
    {
        var c = await ConnectAsAliceAsync(capacity: 1);
        c.Transport.Drain();

        c.Actor.Tell(new Deliver(ServerFrames.Ping), c.Parent.Ref);

        await c.Transport.ExpectFrameAsync("ping", Timeout);
        Assert.Null(c.Transport.ClosedWith);
    }

    [Fact]
    public async Task Client_closing_its_socket_stops_the_actor_with_a_normal_close()
    {
        var c = await ConnectAsAliceAsync();

        c.Actor.Tell(InboundStream.Completed.Instance, c.Transport.Stream.Ref);

        await ExpectClosedAndStoppedAsync(c, Close.Normal);
    }

    [Fact]
    public async Task CloseConnection_closes_with_the_given_code_and_reason()
    {
        var c = await ConnectAsAliceAsync();

        c.Actor.Tell(new CloseConnection(Close.ShuttingDown.Code, Close.ShuttingDown.Reason), c.Parent.Ref);

        await ExpectClosedAndStoppedAsync(c, Close.ShuttingDown);
    }

    // ---- route policy ----

    [Theory]
    [InlineData("""{"type":"publish","id":"pub1","data":{"room":"general","payload":1}}""", "pub1")]
    [InlineData("""{"type":"publish","id":"pub2","data":{"payload":1}}""", "pub2")]
    [InlineData("""{"type":"send","id":"snd1","data":{"user":"bob","payload":1}}""", "snd1")]
    public async Task Receive_only_route_answers_publish_and_send_with_error_forbidden(string frame, string id)
    {
        var c = await ConnectAsync(Notifications);
        await c.Transport.SendTextAsync("""{"type":"auth","data":{"token":"alice-token"}}""", Timeout);
        await c.Transport.ExpectFrameAsync(FrameTypes.Welcome, Timeout);

        await c.Transport.SendTextAsync(frame, Timeout);

        await ExpectErrorAsync(c.Transport, ErrorCodes.Forbidden, id);
        await ExpectStillServingAsync(c);
        await c.Parent.FishForMessageAsync(m => m is ConnectionMessages.Authenticated, Timeout);
        await c.Parent.ExpectNoMsgAsync(Quiet); // nothing was broadcast
    }

    [Fact]
    public async Task Publish_without_a_room_on_a_route_that_did_not_opt_in_to_broadcast_is_forbidden_and_goes_nowhere()
    {
        var c = await ConnectAsync(Lobby);
        await c.Transport.ExpectFrameAsync(FrameTypes.Welcome, Timeout);
        await c.Parent.FishForMessageAsync(m => m is ConnectionMessages.Authenticated, Timeout);

        await c.Transport.SendTextAsync("""{"type":"publish","id":"b0","data":{"payload":"spam"}}""", Timeout);

        await ExpectErrorAsync(c.Transport, ErrorCodes.Forbidden, "b0");
        await ExpectStillServingAsync(c);
        await c.Parent.ExpectNoMsgAsync(Quiet); // no RouteBroadcast reached the supervisor
    }

    [Fact]
    public async Task Publish_without_a_room_goes_to_the_supervisor_as_a_route_broadcast_and_its_ack_echoes_the_id()
    {
        var c = await ConnectAsAliceAsync();
        await c.Parent.ExpectMsgAsync<ConnectionMessages.Authenticated>(Timeout);

        await c.Transport.SendTextAsync("""{"type":"publish","id":"b1","data":{"payload":{"n":1},"excludeSelf":true}}""", Timeout);

        var broadcast = await c.Parent.ExpectMsgAsync<RouteBroadcast>(Timeout);
        Assert.Equal(("chat", "alice", true, "b1"), (broadcast.Route, broadcast.From, broadcast.ExcludeSender, broadcast.Id));
        Assert.Equal("""{"n":1}""", broadcast.Payload.GetRawText());

        c.Actor.Tell(new RouteBroadcastAccepted("b1", 7), c.Parent.Ref);
        var ack = await c.Transport.ExpectFrameAsync(FrameTypes.Ack, Timeout);
        Assert.Equal("b1", Str(ack, "id"));
        Assert.Equal(7, Data(ack).GetProperty("offset").GetInt64());
    }

    private static InboundFrame Text(string json) => InboundFrame.Text(Encoding.UTF8.GetBytes(json));
}
