using Broker.Actors.Auth;
using Broker.Actors.Connections;
using Broker.Contracts.Protocol;
using Xunit.Abstractions;
using static Broker.Actors.Connections.ConnectionMessages;
using static Broker.Contracts.Cluster.ConnectionCommands;
using static Broker.TestKit.ConnectionSpecDefaults;

namespace Broker.Tests.Connections;

/// <summary>
/// The <see cref="ConnectionSupervisor"/> with real <see cref="ConnectionActor"/> children over
/// <see cref="ProbeTransport"/>s; its heartbeat timer and auth deadlines run on virtual time.
/// </summary>
public sealed class ConnectionSupervisorSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(200);

    private static readonly ConnectionSettings Settings = ProtocolDefaults;

    private readonly FakeTokenValidator _tokens = new();
    private readonly IActorRef _supervisor;
    private readonly DateTimeOffset _inAnHour;
    private int _nextId;

    public ConnectionSupervisorSpecs(ITestOutputHelper output) : base(VirtualTime.Config, output: output)
    {
        _inAnHour = Sys.Scheduler.Now + TimeSpan.FromHours(1);
        _tokens.Accept("alice-token", "alice", _inAnHour);
        _supervisor = Sys.ActorOf(ConnectionSupervisor.Props(Settings, _tokens), "connections");
    }

    // ---- harness ----

    private sealed record Connection(IActorRef Actor, ProbeTransport Transport);

    /// <summary>Accepts a socket the way the host does and opens its inbound stream.</summary>
    private async Task<Connection> AcceptAsync(RoutePolicy route, AuthenticatedUser? user = null)
    {
        var id = "c" + ++_nextId;
        var transport = new ProbeTransport(CreateTestProbe("outbound-" + id), CreateTestProbe("stream-" + id));
        var actor = await _supervisor.Ask<IActorRef>(new Accept(new ConnectionInfo(id, route, "127.0.0.1", user), transport), Timeout);
        await transport.ConnectStreamAsync(Timeout);
        if (user is not null || route.Anonymous) await transport.ExpectFrameAsync(FrameTypes.Welcome, Timeout);
        return new Connection(actor, transport);
    }

    /// <summary>A ticket-authenticated connection: welcome arrives without an auth frame.</summary>
    private Task<Connection> AcceptUserAsync(string user, RoutePolicy? route = null) =>
        AcceptAsync(route ?? Chat, new AuthenticatedUser(user, _inAnHour));

    private Task<Stats> StatsAsync() => _supervisor.Ask<Stats>(GetStats.Instance, Timeout);

    private static JsonElement Data(JsonElement frame) => frame.GetProperty("data");

    private static async Task ExpectMessageAsync(Connection c, long offset, string from, string payload)
    {
        var message = await c.Transport.ExpectFrameAsync(FrameTypes.Message, Timeout);
        var data = Data(message);
        Assert.Equal(offset, data.GetProperty("offset").GetInt64());
        Assert.Equal(from, data.GetProperty("from").GetString());
        Assert.Equal(payload, data.GetProperty("payload").GetRawText());
    }

    // ---- accept and stats ----

    [Fact]
    public async Task Accept_creates_a_child_connection_and_replies_with_its_ref()
    {
        var transport = new ProbeTransport(CreateTestProbe(), CreateTestProbe());

        var actor = await _supervisor.Ask<IActorRef>(new Accept(new ConnectionInfo("x1", Chat, "10.0.0.1", null), transport), Timeout);

        Assert.Equal(_supervisor.Path, actor.Path.Parent);
        Assert.Equal("c-x1", actor.Path.Name);
        Assert.Equal(actor, await transport.Connection.WaitAsync(Timeout));
    }

    [Fact]
    public async Task Stats_count_connections_authenticated_ones_and_connections_per_route()
    {
        await AcceptUserAsync("bob");
        await AcceptAsync(Chat); // not authenticated yet
        var notify = await AcceptAsync(Notifications);
        await notify.Transport.SendTextAsync("""{"type":"auth","data":{"token":"alice-token"}}""", Timeout);
        await notify.Transport.ExpectFrameAsync(FrameTypes.Welcome, Timeout);
        await AcceptAsync(Lobby);

        var stats = await StatsAsync();

        Assert.Equal(4, stats.Connections);
        Assert.Equal(3, stats.Authenticated);
        Assert.Equal(new Dictionary<string, int> { ["chat"] = 2, ["notifications"] = 1, ["lobby"] = 1 }, stats.ByRoute);
    }

    [Fact]
    public async Task Stopped_connections_are_removed_from_the_stats()
    {
        var leaving = await AcceptUserAsync("bob");
        await AcceptUserAsync("carol", Notifications);
        Watch(leaving.Actor);

        leaving.Actor.Tell(InboundStream.Completed.Instance, leaving.Transport.Stream.Ref);
        await ExpectTerminatedAsync(leaving.Actor, Timeout);

        await AwaitAssertAsync(async () =>
        {
            var stats = await StatsAsync();
            Assert.Equal(1, stats.Connections);
            Assert.Equal(1, stats.Authenticated);
            Assert.Equal(new Dictionary<string, int> { ["notifications"] = 1 }, stats.ByRoute);
        }, Timeout, TimeSpan.FromMilliseconds(20));
    }

    // ---- heartbeat ----

    [Fact]
    public async Task Heartbeat_interval_pings_every_connection()
    {
        var a = await AcceptUserAsync("alice");
        var b = await AcceptUserAsync("bob", Notifications);

        Sys.Advance(Settings.HeartbeatInterval);

        await a.Transport.ExpectFrameAsync("ping", Timeout);
        await b.Transport.ExpectFrameAsync("ping", Timeout);
    }

    [Fact]
    public async Task Over_forty_periods_the_tick_pings_every_connection_once_each_and_closes_the_one_that_stops_answering_at_the_next()
    {
        // The supervisor pings the sockets itself (no message per connection): the rule must hold
        // period after period, for the ones that answer and for the one that stops.
        const string pong = """{"type":"pong"}""";
        var answering = await AcceptUserAsync("alice");
        var stopping = await AcceptUserAsync("bob");
        var pending = await AcceptAsync(Chat); // never authenticates: the deadline governs it, not the heartbeat
        Watch(stopping.Actor);

        for (var period = 1; period <= 40; period++)
        {
            Sys.Advance(Settings.HeartbeatInterval);
            await answering.Transport.ExpectFrameAsync(FrameTypes.Ping, Timeout);
            await answering.Transport.SendTextAsync(pong, Timeout);
            if (period <= 21) await stopping.Transport.ExpectFrameAsync(FrameTypes.Ping, Timeout);
            if (period <= 20) await stopping.Transport.SendTextAsync(pong, Timeout);
            if (period == 22)
            {
                Assert.Equal(new ProbeTransport.Closed(Close.HeartbeatTimeout, false), await stopping.Transport.ExpectClosedAsync(Timeout));
                await ExpectTerminatedAsync(stopping.Actor, Timeout);
            }
            if (period == 5) Sys.Advance(Settings.AuthTimeout); // let the pending one's deadline pass mid-run
        }

        await answering.Transport.Outbound.ExpectNoMsgAsync(Quiet);
        Assert.Equal(1 + 40, answering.Transport.Sent.Count); // welcome, then exactly one ping per period
        Assert.Null(answering.Transport.ClosedWith);
        Assert.DoesNotContain(pending.Transport.Sent, f => f.Type == FrameTypes.Ping);
        Assert.Equal(Close.AuthTimeout, pending.Transport.ClosedWith?.Close);
    }

    [Fact]
    public async Task A_socket_whose_queue_is_full_when_the_tick_pings_is_cut_off_as_a_slow_consumer()
    {
        var full = await AcceptUserAsync("alice");
        full.Transport.Capacity = full.Transport.Sent.Count; // welcome filled it
        Watch(full.Actor);

        Sys.Advance(Settings.HeartbeatInterval);

        Assert.Equal(new ProbeTransport.Closed(Close.SlowConsumer, true), await full.Transport.ExpectClosedAsync(Timeout));
        await ExpectTerminatedAsync(full.Actor, Timeout);
    }

    [Fact]
    public async Task Silent_connection_is_terminated_after_two_intervals_while_a_live_one_stays()
    {
        var silent = await AcceptUserAsync("alice");
        var live = await AcceptUserAsync("bob");
        Watch(silent.Actor);

        Sys.Advance(Settings.HeartbeatInterval);
        await silent.Transport.ExpectFrameAsync("ping", Timeout);
        await live.Transport.ExpectFrameAsync("ping", Timeout);
        await live.Transport.SendTextAsync("""{"type":"pong"}""", Timeout);

        Sys.Advance(Settings.HeartbeatInterval);

        Assert.Equal(new ProbeTransport.Closed(Close.HeartbeatTimeout, false),
            await silent.Transport.ExpectClosedAsync(Timeout));
        await ExpectTerminatedAsync(silent.Actor, Timeout);
        await live.Transport.ExpectFrameAsync("ping", Timeout);
        Assert.Null(live.Transport.ClosedWith);
    }

    // ---- auth deadline ----

    [Fact]
    public async Task Auth_deadline_closes_an_unauthenticated_connection_after_the_auth_timeout()
    {
        var c = await AcceptAsync(Chat);
        Watch(c.Actor);

        Sys.Advance(Settings.AuthTimeout - TimeSpan.FromSeconds(1));
        await c.Transport.Outbound.ExpectNoMsgAsync(Quiet);

        Sys.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(new ProbeTransport.Closed(Close.AuthTimeout, false),
            await c.Transport.ExpectClosedAsync(Timeout));
        await ExpectTerminatedAsync(c.Actor, Timeout);
    }

    [Fact]
    public async Task Auth_deadline_does_not_fire_for_a_connection_that_authenticated_in_time()
    {
        var c = await AcceptAsync(Chat);
        Sys.Advance(TimeSpan.FromSeconds(5));
        await c.Transport.SendTextAsync("""{"type":"auth","data":{"token":"alice-token"}}""", Timeout);
        await c.Transport.ExpectFrameAsync(FrameTypes.Welcome, Timeout);

        Sys.Advance(Settings.AuthTimeout);

        await c.Transport.Outbound.ExpectNoMsgAsync(Quiet);
        await c.Transport.SendTextAsync("""{"type":"ping","id":"p"}""", Timeout);
        await c.Transport.ExpectFrameAsync("pong", Timeout);
    }

    [Fact]
    public async Task Anonymous_and_ticket_connections_have_no_auth_deadline()
    {
        var anonymous = await AcceptAsync(Lobby);
        var ticket = await AcceptUserAsync("bob");

        Sys.Advance(Settings.AuthTimeout + TimeSpan.FromSeconds(1));

        await anonymous.Transport.Outbound.ExpectNoMsgAsync(Quiet);
        await ticket.Transport.Outbound.ExpectNoMsgAsync(Quiet);
    }

    [Fact]
    public async Task Unauthenticated_connection_gets_no_heartbeat_and_keeps_its_full_auth_timeout()
    {
        // PROTOCOL §5 allows a 1 s heartbeat; §2 still gives a client the whole authTimeout (10 s)
        // to authenticate, and §3 makes welcome its first frame.
        var fast = Sys.ActorOf(ConnectionSupervisor.Props(Settings with { HeartbeatInterval = TimeSpan.FromSeconds(1) }, _tokens));
        var transport = new ProbeTransport(CreateTestProbe(), CreateTestProbe());
        await fast.Ask<IActorRef>(new Accept(new ConnectionInfo("slow-auth", Chat, "127.0.0.1", null), transport), Timeout);
        await transport.ConnectStreamAsync(Timeout);

        for (var second = 1; second <= 5; second++) Sys.Advance(TimeSpan.FromSeconds(1));
        await transport.Outbound.ExpectNoMsgAsync(Quiet);

        await transport.SendTextAsync("""{"type":"auth","data":{"token":"alice-token"}}""", Timeout);
        await transport.ExpectFrameAsync(FrameTypes.Welcome, Timeout);
        Sys.Advance(TimeSpan.FromSeconds(1));
        await transport.ExpectFrameAsync("ping", Timeout);
    }

    // ---- route broadcast ----

    [Fact]
    public async Task Route_broadcast_reaches_every_connection_of_its_route_only_with_offsets_1_2_3()
    {
        var a = await AcceptUserAsync("alice");
        var b = await AcceptUserAsync("bob");
        var other = await AcceptUserAsync("carol", Notifications);
        var payload = JsonDocument.Parse("""{"hello":"world"}""").RootElement;

        for (var offset = 1; offset <= 3; offset++)
        {
            _supervisor.Tell(new RouteBroadcast("chat", "backend", payload, ExcludeSender: false, Id: "m" + offset), TestActor);

            await ExpectMsgAsync(new RouteBroadcastAccepted("m" + offset, offset), Timeout);
            await ExpectMessageAsync(a, offset, "backend", """{"hello":"world"}""");
            await ExpectMessageAsync(b, offset, "backend", """{"hello":"world"}""");
        }
        await other.Transport.Outbound.ExpectNoMsgAsync(Quiet);
    }

    [Fact]
    public async Task Route_broadcast_message_has_null_room_and_epoch()
    {
        var a = await AcceptUserAsync("alice");

        _supervisor.Tell(new RouteBroadcast("chat", "backend", JsonDocument.Parse("1").RootElement, false, null), TestActor);

        var data = Data(await a.Transport.ExpectFrameAsync(FrameTypes.Message, Timeout));
        Assert.Equal(JsonValueKind.Null, data.GetProperty("room").ValueKind);
        Assert.Equal(JsonValueKind.Null, data.GetProperty("epoch").ValueKind);
    }

    [Fact]
    public async Task Client_publish_without_room_with_excludeSelf_reaches_the_others_and_acks_the_sender()
    {
        var sender = await AcceptUserAsync("alice");
        var peer = await AcceptUserAsync("bob");

        await sender.Transport.SendTextAsync("""{"type":"publish","id":"p1","data":{"payload":"hi","excludeSelf":true}}""", Timeout);

        var ack = await sender.Transport.ExpectFrameAsync(FrameTypes.Ack, Timeout);
        Assert.Equal("p1", ack.GetProperty("id").GetString());
        Assert.Equal(1, Data(ack).GetProperty("offset").GetInt64());
        await ExpectMessageAsync(peer, 1, "alice", "\"hi\"");
        await sender.Transport.Outbound.ExpectNoMsgAsync(Quiet);
    }

    [Fact]
    public async Task Client_publish_without_room_and_without_excludeSelf_also_reaches_the_sender()
    {
        var sender = await AcceptUserAsync("alice");
        var peer = await AcceptUserAsync("bob");

        await sender.Transport.SendTextAsync("""{"type":"publish","id":"p1","data":{"payload":"hi"}}""", Timeout);

        await ExpectMessageAsync(sender, 1, "alice", "\"hi\"");
        await sender.Transport.ExpectFrameAsync(FrameTypes.Ack, Timeout);
        await ExpectMessageAsync(peer, 1, "alice", "\"hi\"");
    }

    [Fact]
    public async Task Route_broadcast_does_not_reach_an_unauthenticated_connection()
    {
        var member = await AcceptUserAsync("alice");
        var stranger = await AcceptAsync(Chat);

        _supervisor.Tell(new RouteBroadcast("chat", "backend", JsonDocument.Parse("1").RootElement, false, null), TestActor);

        await ExpectMessageAsync(member, 1, "backend", "1");
        await stranger.Transport.Outbound.ExpectNoMsgAsync(Quiet);
    }

    // ---- shutdown ----

    [Fact]
    public async Task CloseAll_closes_every_connection_with_the_code_and_replies_AllClosed_once_all_are_gone()
    {
        var connections = new[] { await AcceptUserAsync("alice"), await AcceptAsync(Chat), await AcceptAsync(Lobby) };

        var reply = await _supervisor.Ask<AllClosed>(new CloseAll(Close.ShuttingDown), Timeout);

        Assert.Same(AllClosed.Instance, reply);
        foreach (var c in connections)
            Assert.Equal(new ProbeTransport.Closed(Close.ShuttingDown, false),
                await c.Transport.ExpectClosedAsync(Timeout));
        Assert.Equal(0, (await StatsAsync()).Connections);
    }

    [Fact]
    public async Task CloseAll_with_no_connections_replies_AllClosed_at_once()
    {
        var reply = await _supervisor.Ask<AllClosed>(new CloseAll(Close.ShuttingDown), Timeout);

        Assert.Same(AllClosed.Instance, reply);
    }

    [Fact]
    public async Task A_connection_accepted_after_CloseAll_is_closed_with_the_same_code_not_left_to_its_auth_deadline()
    {
        // The handshake of this one finished while shutdown was already closing everything.
        await _supervisor.Ask<AllClosed>(new CloseAll(Close.ShuttingDown), Timeout);

        var late = new ProbeTransport(CreateTestProbe("outbound-late"), CreateTestProbe("stream-late"));
        await _supervisor.Ask<IActorRef>(new Accept(new ConnectionInfo("late", Chat, "127.0.0.1", null), late), Timeout);

        Assert.Equal(new ProbeTransport.Closed(Close.ShuttingDown, false),
            await late.ExpectClosedAsync(Timeout));
    }

    // ---- failures ----

    [Fact]
    public async Task Crashing_connection_is_stopped_and_its_socket_closed_with_1011()
    {
        var crashing = await AcceptUserAsync("alice");
        var bystander = await AcceptUserAsync("bob");
        Watch(crashing.Actor);
        crashing.Transport.SendFailure = new InvalidOperationException("transport bug (test)");

        crashing.Actor.Tell(new Deliver(ServerFrames.Ping));

        Assert.Equal(new ProbeTransport.Closed(Close.Internal, false),
            await crashing.Transport.ExpectClosedAsync(Timeout));
        await ExpectTerminatedAsync(crashing.Actor, Timeout);
        await bystander.Transport.SendTextAsync("""{"type":"ping"}""", Timeout);
        await bystander.Transport.ExpectFrameAsync("pong", Timeout);
    }
}
