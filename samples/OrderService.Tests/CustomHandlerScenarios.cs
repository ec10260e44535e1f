using System.Text.Json;
using Akka.Actor;
using Broker.Actors.Connections;
using Broker.Actors.Handlers;
using Broker.Contracts.Protocol;
using Broker.AspNetCore.Embedding;
using Broker.TestKit;
using Xunit;
using static Broker.Actors.Connections.ConnectionMessages;
using static Broker.Contracts.Cluster.ConnectionCommands;

namespace OrderService.Tests;

/// <summary>
/// How to test your own message handler (<see cref="IBrokerMessageHandler"/>) without sockets.
/// Copy this file: the handler is tested alone first (plain unit test), then behind a real
/// <see cref="ConnectionActor"/> whose socket is a <see cref="ProbeTransport"/> (Broker.TestKit's
/// <see cref="ConnectionTestKit.StartConnectionAsync"/>), with TestKit probes for everything around
/// it and virtual time (<see cref="VirtualTime"/>) for token expiry.
/// </summary>
public sealed class CustomHandlerScenarios() : Akka.TestKit.Xunit2.TestKit(VirtualTime.Config)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);

    // ---- the application's handler under test ----

    /// <summary>
    /// <c>{"type":"score.add","data":{"points":n}}</c> → <c>score.total</c> with the user's running
    /// total, and a <c>direct</c> to "coach" through <see cref="IBrokerPublisher"/>.
    /// </summary>
    private sealed class ScoreHandler(IBrokerPublisher publisher) : IBrokerMessageHandler
    {
        private readonly Dictionary<string, int> _totals = new();

        public async ValueTask<HandlerReply?> HandleAsync(BrokerMessageContext context, JsonElement data, CancellationToken cancellationToken)
        {
            if (data.ValueKind != JsonValueKind.Object || !data.TryGetProperty("points", out var p) || !p.TryGetInt32(out var points))
                return HandlerReply.Error(ErrorCodes.BadRequest, "score.add needs data {\"points\":n}");
            if (points < 0) throw new InvalidOperationException("negative points are a bug in the client");
            int total;
            lock (_totals) total = _totals[context.UserId] = _totals.GetValueOrDefault(context.UserId) + points;
            await publisher.SendToUserAsync("coach", new { user = context.UserId, total }, cancellationToken: cancellationToken);
            return HandlerReply.Of("score.total", JsonSerializer.SerializeToElement(new { total }));
        }
    }

    /// <summary>Records what the handler published instead of reaching a cluster.</summary>
    private sealed class RecordingPublisher : IBrokerPublisher
    {
        public List<(string User, string Payload)> Sent { get; } = new();
        public Task<long> PublishToRoomAsync(string room, JsonElement payload, string from = "server", CancellationToken cancellationToken = default) => Task.FromResult(1L);
        public Task<RoomPublished> PublishToRoomWithEpochAsync(string room, JsonElement payload, string from = "server", CancellationToken cancellationToken = default) => Task.FromResult(new RoomPublished(1, "e"));
        public Task<RoomPublished> PublishToRoomOnceAsync(string room, JsonElement payload, string idempotencyKey, string from = "server", CancellationToken cancellationToken = default) => Task.FromResult(new RoomPublished(1, "e"));
        public Task<RoomPresence> GetRoomAsync(string room, CancellationToken cancellationToken = default) => throw new NotSupportedException();
        public Task<UserPresence> GetUserAsync(string user, CancellationToken cancellationToken = default) => throw new NotSupportedException();
        public Task<int> DisconnectUserAsync(string user, bool reconnect = true, CancellationToken cancellationToken = default) => throw new NotSupportedException();
        public Task<long> BroadcastToRouteAsync(string route, JsonElement payload, string from = "server", CancellationToken cancellationToken = default) => Task.FromResult(1L);
        public Task<int> SendToUserAsync(string user, JsonElement payload, string from = "server", CancellationToken cancellationToken = default)
        {
            lock (Sent) Sent.Add((user, payload.GetRawText()));
            return Task.FromResult(1);
        }
    }

    /// <summary>A handler whose answer the test releases, to see what the connection does meanwhile.</summary>
    private sealed class GatedHandler : IBrokerMessageHandler
    {
        public TaskCompletionSource Gate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async ValueTask<HandlerReply?> HandleAsync(BrokerMessageContext context, JsonElement data, CancellationToken cancellationToken)
        {
            await Gate.Task.WaitAsync(cancellationToken);
            return HandlerReply.Of("slow.done", data);
        }
    }

    // ---- 1. the handler alone: no actors at all ----

    [Fact]
    public async Task The_handler_alone_adds_up_points_per_user_and_tells_the_coach()
    {
        var publisher = new RecordingPublisher();
        var handler = new ScoreHandler(publisher);
        var context = new BrokerMessageContext("alice", "c1", "chat", "score.add", "r1");

        await handler.HandleAsync(context, JsonDocument.Parse("""{"points":2}""").RootElement, default);
        var reply = await handler.HandleAsync(context, JsonDocument.Parse("""{"points":3}""").RootElement, default);

        Assert.Equal("""{"type":"score.total","id":"r1","data":{"total":5}}""", System.Text.Encoding.UTF8.GetString(reply!.ToFrame("r1")));
        Assert.Equal(("coach", """{"user":"alice","total":5}"""), publisher.Sent[^1]);
    }

    // ---- 2. behind a connection actor: the wire as the client sees it ----

    /// <summary>
    /// A connection authenticated as <paramref name="user"/> (until <paramref name="expiresAt"/>) on
    /// <c>chat</c>, serving <paramref name="handlers"/>. Rooms and users are probes nobody answers.
    /// </summary>
    private Task<ProbeTransport> ConnectAsync(MessageHandlers handlers, string user = "alice", DateTimeOffset? expiresAt = null) =>
        this.StartConnectionAsync(new ConnectionServices(CreateTestProbe("hub").Ref, CreateTestProbe("users").Ref, Handlers: handlers),
            user, expiresAt, timeout: Timeout);

    [Fact]
    public async Task A_custom_frame_is_answered_with_the_handlers_reply_and_the_requests_id()
    {
        var client = await ConnectAsync(new MessageHandlers().Add("score.add", new ScoreHandler(new RecordingPublisher())));

        await client.SendTextAsync("""{"type":"score.add","id":"r1","data":{"points":4}}""", Timeout);

        var reply = await client.ExpectFrameAsync("score.total", Timeout);
        Assert.Equal("r1", reply.GetProperty("id").GetString());
        Assert.Equal(4, reply.GetProperty("data").GetProperty("total").GetInt32());
    }

    [Fact]
    public async Task A_handler_that_throws_costs_the_client_an_internal_error_not_its_connection()
    {
        var client = await ConnectAsync(new MessageHandlers().Add("score.add", new ScoreHandler(new RecordingPublisher())));

        await client.SendTextAsync("""{"type":"score.add","id":"bad","data":{"points":-1}}""", Timeout);
        var error = await client.ExpectFrameAsync(FrameTypes.Error, Timeout);
        Assert.Equal(("bad", "internal"), (error.GetProperty("id").GetString(), error.GetProperty("data").GetProperty("code").GetString()));

        await client.SendTextAsync("""{"type":"ping","id":"still-here"}""", Timeout);
        Assert.Equal("still-here", (await client.ExpectFrameAsync(FrameTypes.Pong, Timeout)).GetProperty("id").GetString());
    }

    [Fact]
    public async Task Types_nobody_registered_still_get_bad_request()
    {
        var client = await ConnectAsync(new MessageHandlers().Add("score.add", new ScoreHandler(new RecordingPublisher())));

        await client.SendTextAsync("""{"type":"score.reset","id":"x"}""", Timeout);

        var error = await client.ExpectFrameAsync(FrameTypes.Error, Timeout);
        Assert.Equal("bad_request", error.GetProperty("data").GetProperty("code").GetString());
    }

    [Fact]
    public async Task A_type_enabled_only_on_another_route_is_unknown_here()
    {
        var handlers = new MessageHandlers().Add("score.add", new ScoreHandler(new RecordingPublisher()), "notifications");
        var client = await ConnectAsync(handlers); // on chat

        await client.SendTextAsync("""{"type":"score.add","id":"x","data":{"points":1}}""", Timeout);

        Assert.Equal("bad_request", (await client.ExpectFrameAsync(FrameTypes.Error, Timeout)).GetProperty("data").GetProperty("code").GetString());
    }

    [Fact]
    public async Task The_next_frame_waits_for_the_handler_so_replies_keep_the_request_order()
    {
        var slow = new GatedHandler();
        var client = await ConnectAsync(new MessageHandlers().Add("slow.op", slow));

        await client.SendAsync(InboundFrame.Text("""{"type":"slow.op","id":"first","data":1}"""u8.ToArray()));
        // No ack while the handler works: the transport holds the client's next frame.
        await client.Stream.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(200));

        slow.Gate.SetResult();
        Assert.Equal("first", (await client.ExpectFrameAsync("slow.done", Timeout)).GetProperty("id").GetString());
        await client.Stream.ExpectMsgAsync<InboundStream.Ack>(Timeout);
    }

    [Fact]
    public async Task A_handler_that_never_answers_gets_an_internal_error_after_the_timeout()
    {
        var client = await ConnectAsync(new MessageHandlers(TimeSpan.FromMilliseconds(100)).Add("slow.op", new GatedHandler()));

        await client.SendTextAsync("""{"type":"slow.op","id":"stuck","data":1}""", Timeout);

        var error = await client.ExpectFrameAsync(FrameTypes.Error, Timeout);
        Assert.Equal(("stuck", "internal"), (error.GetProperty("id").GetString(), error.GetProperty("data").GetProperty("code").GetString()));
    }

    [Fact]
    public async Task Messages_for_the_client_still_flow_while_its_handler_works()
    {
        var slow = new GatedHandler();
        var client = await ConnectAsync(new MessageHandlers().Add("slow.op", slow));
        await client.SendAsync(InboundFrame.Text("""{"type":"slow.op","id":"s","data":1}"""u8.ToArray()));

        // A room message arriving meanwhile is delivered at once: only the client's next frame waits.
        (await client.Connection).Tell(new Deliver(ServerFrames.Direct("bob", "\"hi\""u8)));
        Assert.Equal("bob", (await client.ExpectFrameAsync(FrameTypes.Direct, Timeout)).GetProperty("data").GetProperty("from").GetString());

        slow.Gate.SetResult();
        await client.ExpectFrameAsync("slow.done", Timeout);
    }

    // ---- 3. virtual time: the connection's clocks keep running while a handler works ----

    [Fact]
    public async Task A_silent_heartbeat_during_a_slow_handler_is_not_held_against_the_client()
    {
        var slow = new GatedHandler();
        var client = await ConnectAsync(new MessageHandlers().Add("slow.op", slow));
        await client.SendAsync(InboundFrame.Text("""{"type":"slow.op","id":"s","data":1}"""u8.ToArray()));
        var connection = await client.Connection;

        // Two ticks with no frame read between them would close a silent client (PROTOCOL §5);
        // here the client's frames are waiting on us, so it is only pinged.
        connection.Tell(HeartbeatTick.Instance);
        await client.ExpectFrameAsync(FrameTypes.Ping, Timeout);
        connection.Tell(HeartbeatTick.Instance);
        await client.ExpectFrameAsync(FrameTypes.Ping, Timeout);

        slow.Gate.SetResult();
        await client.ExpectFrameAsync("slow.done", Timeout);
    }

    [Fact]
    public async Task The_token_still_ends_the_connection_while_a_handler_works()
    {
        var client = await ConnectAsync(new MessageHandlers().Add("slow.op", new GatedHandler()), expiresAt: Sys.Scheduler.Now + TimeSpan.FromMinutes(5));
        await client.SendAsync(InboundFrame.Text("""{"type":"slow.op","id":"s","data":1}"""u8.ToArray()));

        Sys.Advance(TimeSpan.FromMinutes(5)); // virtual: fires the expiry timer at once

        var closed = await client.ExpectClosedAsync(Timeout);
        Assert.Equal(Close.TokenExpired, closed.Close);
    }
}
