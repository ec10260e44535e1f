using System.Text;
using Broker.Actors.Auth;
using Broker.Actors.Connections;
using Broker.Actors.Rooms;
using Broker.Contracts.Protocol;
using Xunit.Abstractions;
using static Broker.Actors.Connections.ConnectionMessages;
using static Broker.TestKit.ConnectionSpecDefaults;

namespace Broker.Tests.Connections;

/// <summary>
/// Room rules and a refresh's token check hold the connection's inbound stream while they run:
/// a slow one is cut off at its timeout with <c>error unavailable</c>, and meanwhile the heartbeat
/// does not take the client (whose frames are merely unread) for silent. Virtual time throughout.
/// </summary>
public sealed class ConnectionRuleTimeoutSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan RuleTimeout = TimeSpan.FromSeconds(5);

    private static readonly ConnectionSettings Settings = new(
        NodeName: "node-a",
        HeartbeatInterval: Interval,
        HeartbeatTimeout: TimeSpan.FromMilliseconds(500),
        AuthTimeout: TimeSpan.FromSeconds(10),
        MaxRoomsPerConnection: 100)
    {
        RoomRuleTimeout = RuleTimeout,
        RefreshTimeout = RuleTimeout,
    };

    public ConnectionRuleTimeoutSpecs(ITestOutputHelper output) : base(VirtualTime.Config, output: output) { }

    /// <summary>Rules that never answer on their own; they only see their call cancelled.</summary>
    private sealed class HangingRules : IRoomAuthorizer
    {
        public TaskCompletionSource Called { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource Cancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ValueTask<bool> MayJoinAsync(string userId, string room, CancellationToken cancellationToken = default) => Hang(cancellationToken);

        public ValueTask<bool> MayPublishAsync(string userId, string room, CancellationToken cancellationToken = default) => Hang(cancellationToken);

        private async ValueTask<bool> Hang(CancellationToken token)
        {
            Called.TrySetResult();
            token.Register(() => Cancelled.TrySetResult());
            await Task.Delay(System.Threading.Timeout.Infinite, token);
            return true;
        }
    }

    /// <summary>A validator that never answers (say, stuck fetching signing keys); it only sees its call cancelled.</summary>
    private sealed class HangingValidator : ITokenValidator
    {
        public TaskCompletionSource Called { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource Cancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async Task<TokenValidation> ValidateAsync(string token, CancellationToken cancellationToken = default)
        {
            Called.TrySetResult();
            cancellationToken.Register(() => Cancelled.TrySetResult());
            await Task.Delay(System.Threading.Timeout.Infinite, cancellationToken);
            return TokenValidation.Invalid("unreachable");
        }
    }

    private async Task<(IActorRef Actor, ProbeTransport Transport, TestProbe Parent, TestProbe Hub)> ConnectAsync(
        IRoomAuthorizer rules, ITokenValidator tokens)
    {
        var hub = CreateTestProbe("hub");
        var transport = new ProbeTransport(CreateTestProbe("outbound"), CreateTestProbe("stream"));
        var parent = CreateTestProbe("parent");
        var info = new ConnectionInfo("c1", Chat, "127.0.0.1", new AuthenticatedUser("alice", Sys.Scheduler.Now + TimeSpan.FromHours(1)));
        var actor = parent.ChildActorOf(ConnectionActor.Props(info, transport, Settings, tokens,
            new ConnectionServices(hub.Ref, CreateTestProbe("users").Ref, rules)));
        await transport.ConnectStreamAsync(Timeout);
        await transport.ExpectFrameAsync(FrameTypes.Welcome, Timeout);
        return (actor, transport, parent, hub);
    }

    /// <summary>Heartbeat periods pass while the call holds the stream: each tick pings, none closes.</summary>
    private async Task HeartbeatsPassAsync(IActorRef actor, TestProbe parent, ProbeTransport transport, int periods)
    {
        for (var i = 0; i < periods; i++)
        {
            Sys.Advance(Interval);
            actor.Tell(HeartbeatTick.Instance, parent.Ref);
            await transport.ExpectFrameAsync(FrameTypes.Ping, Timeout);
        }
    }

    private static async Task ExpectUnavailableAsync(ProbeTransport transport, string id)
    {
        var error = await transport.ExpectFrameAsync(FrameTypes.Error, Timeout);
        Assert.Equal(ErrorCodes.Unavailable, error.GetProperty("data").GetProperty("code").GetString());
        Assert.Equal(id, error.GetProperty("id").GetString());
    }

    private static async Task ExpectStillServingAsync(ProbeTransport transport)
    {
        await transport.SendTextAsync("""{"type":"ping","id":"still-there"}""", Timeout);
        var pong = await transport.ExpectFrameAsync("pong", Timeout);
        Assert.Equal("still-there", pong.GetProperty("id").GetString());
    }

    [Fact]
    public async Task Room_rules_that_never_answer_get_the_join_unavailable_and_the_client_is_not_taken_for_silent()
    {
        var rules = new HangingRules();
        var (actor, transport, parent, hub) = await ConnectAsync(rules, new FakeTokenValidator());

        // Not acked: the rules hold the stream, so the client's next frames wait unread.
        await transport.SendAsync(InboundFrame.Text(Encoding.UTF8.GetBytes("""{"type":"join","id":"j1","data":{"room":"r"}}""")));
        await rules.Called.Task.WaitAsync(Timeout); // the call (and its deadline) started before virtual time moves
        await HeartbeatsPassAsync(actor, parent, transport, periods: 4); // 4 s of the 5 s budget, 4 pings unanswered

        Sys.Advance(Interval);
        await ExpectUnavailableAsync(transport, "j1");
        await transport.Stream.ExpectMsgAsync<InboundStream.Ack>(Timeout); // the stream flows again
        await rules.Cancelled.Task.WaitAsync(Timeout); // the rules' call was told nobody waits
        await hub.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(200)); // not applied
        Assert.Null(transport.ClosedWith);
        await ExpectStillServingAsync(transport);
    }

    [Fact]
    public async Task A_refresh_whose_token_check_never_answers_gets_unavailable_and_the_connection_stays()
    {
        var validator = new HangingValidator();
        var (actor, transport, parent, _) = await ConnectAsync(AllowAllRooms.Instance, validator);

        await transport.SendAsync(InboundFrame.Text(Encoding.UTF8.GetBytes("""{"type":"auth","id":"r1","data":{"token":"new-token"}}""")));
        await validator.Called.Task.WaitAsync(Timeout);
        await HeartbeatsPassAsync(actor, parent, transport, periods: 4);

        Sys.Advance(Interval);
        await ExpectUnavailableAsync(transport, "r1"); // not a rejection: no 4401
        await transport.Stream.ExpectMsgAsync<InboundStream.Ack>(Timeout);
        await validator.Cancelled.Task.WaitAsync(Timeout);
        Assert.Null(transport.ClosedWith);
        await ExpectStillServingAsync(transport);
    }
}
