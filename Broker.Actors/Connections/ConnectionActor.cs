using Akka.Actor;
using Akka.Event;
using Broker.Actors.Auth;
using Broker.Actors.Handlers;
using Broker.Actors.Observability;
using Broker.Contracts.Cluster;
using Broker.Contracts.Protocol;
using static Broker.Actors.Connections.ConnectionMessages;
using static Broker.Contracts.Cluster.ConnectionCommands;

namespace Broker.Actors.Connections;

/// <summary>
/// One WebSocket connection. Two phases, told apart by whether the user is known: before, only an
/// <c>auth</c> frame is accepted; after, the auth handler is gone and only refreshes remain. Socket I/O is the
/// transport's; this actor only validates frames and moves messages. Heartbeat ticks and the auth
/// deadline come from the parent <see cref="ConnectionSupervisor"/>.
/// <para>
/// An <see cref="UntypedActor"/> with a phase switch rather than a <c>ReceiveActor</c>: there is one
/// of these per socket, and the per-instance handler tables of <c>Receive&lt;T&gt;</c> (a delegate
/// per handler per state, match builders, argument captures) were about 2 KB of every idle
/// connection (docs/benchmarks.md). The switches are the whole dispatch table.
/// </para>
/// <para>
/// One concern per file: this one the phases, the commands a route allows, the socket and
/// closing; <c>.Held</c> the one way an async step holds the inbound ack; <c>.Auth</c> the token
/// (first auth, refresh, expiry); <c>.Heartbeat</c>; <c>.Rooms</c> joins, publishes, sends and
/// their rules; <c>.Handlers</c> the application's custom types.
/// </para>
/// </summary>
public sealed partial class ConnectionActor : UntypedActor
{
    private readonly ConnectionInfo _info;
    private readonly IConnectionTransport _transport;
    private readonly ConnectionSettings _settings;
    private readonly ITokenValidator _tokens;
    private readonly ConnectionServices? _services;
    private readonly HashSet<string> _rooms = new(StringComparer.Ordinal);
    private readonly RouteHandlers? _handlers;
    private ILoggingAdapter? _log; // made on first use: most connections never log

    private IActorRef _stream = ActorRefs.Nobody;
    private AuthenticatedUser? _user;
    private bool _closed;

    /// <param name="heartbeat">The state the supervisor's tick reads; a connection made without one (specs) keeps its own.</param>
    public ConnectionActor(ConnectionInfo info, IConnectionTransport transport, ConnectionSettings settings, ITokenValidator tokens,
        ConnectionServices? services = null, ConnectionHeartbeat? heartbeat = null)
    {
        _info = info;
        _heartbeat = heartbeat ?? new ConnectionHeartbeat();
        _transport = transport;
        _settings = settings;
        _tokens = tokens;
        _services = services;
        _handlers = services?.Handlers?.ForRoute(info.Route.Name);
    }

    public static Props Props(ConnectionInfo info, IConnectionTransport transport, ConnectionSettings settings, ITokenValidator tokens,
        ConnectionServices? services = null, ConnectionHeartbeat? heartbeat = null) =>
        Akka.Actor.Props.Create(() => new ConnectionActor(info, transport, settings, tokens, services, heartbeat));

    private ILoggingAdapter Log => _log ??= Context.GetLogger();

    protected override void PreStart()
    {
        _transport.Start(Self);
        if (_info.User is { } user) BecomeAuthenticated(user);
        else if (_info.Route.Anonymous) BecomeAuthenticated(new AuthenticatedUser(ReservedSubjects.AnonymousPrefix + _info.ConnectionId, null));
    }

    protected override void PostStop()
    {
        // Reached on every stop, including a crash the supervisor turned into Stop: never leave a socket open.
        _heartbeat.End();
        if (!_closed) _transport.Close(Close.Internal);
        EndHold(); // nobody is left to answer
        _expiry?.Cancel();
        // Rooms learn of the disconnect from the hub, which watches this actor.
        if (_user is not null) _services?.Users.Tell(new UserCommands.UnregisterConnection(_user.UserId, _info.ConnectionId));
    }

    protected override void OnReceive(object message)
    {
        var handled = _user is null ? OnUnauthenticated(message) : OnAuthenticated(message);
        if (!handled && !OnAnyPhase(message)) Unhandled(message);
    }

    // ---- phases: whether the connection has a user yet ----

    private bool OnUnauthenticated(object message)
    {
        switch (message)
        {
            case InboundFrame frame:
                _heartbeat.SignOfLife();
                if (!HandleTransportVerdict(frame)) OnFirstFrame(frame);
                return true;
            case TokenChecked checkedToken:
                if (Release(checkedToken.HoldId)) OnAuthChecked(checkedToken);
                return true;
            default:
                return false;
        }
    }

    private bool OnAuthenticated(object message)
    {
        switch (message)
        {
            case InboundFrame frame:
                _heartbeat.SignOfLife();
                if (!HandleTransportVerdict(frame)) OnFrame(frame);
                return true;
            // Only here: an unauthenticated socket must see nothing (welcome comes first, PROTOCOL §3).
            case Deliver deliver:
                Send(deliver.Frame);
                if (!_closed) BrokerMetrics.Delivered(deliver.FanOutStamp);
                return true;
            // The room hub could not queue a frame on this socket: full means a slow consumer.
            case OutboundRefused:
                if (!_closed) CutOffSlowConsumer();
                return true;
            case TokenChecked refreshed:
                if (Release(refreshed.HoldId)) OnRefreshChecked(refreshed);
                return true;
            case RoomRuleDecision decision:
                if (Release(decision.HoldId)) OnRoomRuleDecision(decision);
                return true;
            case HandlerOutcome outcome:
                if (Release(outcome.HoldId)) OnHandlerOutcome(outcome);
                return true;
            case RouteBroadcastAccepted accepted:
                Send(ServerFrames.PublishAck(accepted.Id, accepted.Offset, epoch: null));
                return true;
            case RoomEvents.PublishAccepted accepted:
                Send(ServerFrames.PublishAck(accepted.RequestId, accepted.Offset, accepted.Epoch));
                return true;
            case RoomEvents.PublishRejected rejected:
                Send(ServerFrames.Error(rejected.RequestId, rejected.Code, rejected.Message));
                return true;
            case JoinRefused refused:
                if (!_rooms.Remove(refused.RoomId)) return true;
                // Out of the room as much as after a leave: the access log and the console's room counts say so.
                ConnectionTelemetry.Left(Context.System, _info, _user!.UserId, refused.RoomId);
                if (_services is not null) UpdateUserRooms(_services);
                return true;
            case UserEvents.DirectDelivered delivered:
                Send(ServerFrames.SendAck(delivered.RequestId, delivered.Delivered));
                return true;
            case UserEvents.ConnectionRefused refused:
                OnConnectionRefused(refused);
                return true;
            case Users.UserHub.SendUnanswered unanswered:
                Send(ServerFrames.Error(unanswered.RequestId, ErrorCodes.Unavailable, "the user's directory is moving to another node; send again"));
                return true;
            case TokenExpired:
                OnTokenExpired();
                return true;
            case StreamAlive:
                OnStreamAlive();
                return true;
            default:
                return false;
        }
    }

    // ---- what an authenticated client may send, and what its route allows ----

    private void OnFrame(InboundFrame frame)
    {
        if (frame.Kind == InboundKind.RateLimited)
        {
            var limited = FrameParser.Parse(frame.Utf8);
            BrokerMetrics.RateLimitHit(closed: false);
            Send(ServerFrames.Error(limited.Command?.Id ?? limited.Error?.Id, ErrorCodes.RateLimited, "rate limit exceeded; slow down"));
            AckStream();
            return;
        }
        // Custom types are looked up only after every built-in one, and only when the route has any.
        var parsed = FrameParser.Parse(frame.Utf8, _handlers?.Types);
        if (parsed.Error is { } error)
        {
            Send(ServerFrames.Error(error));
            AckStream();
            return;
        }
        if (Handle(parsed.Command!)) AckStream();
    }

    /// <summary>Handles one command; false when it holds the stream ack (an async step will ack).</summary>
    private bool Handle(ClientCommand command)
    {
        switch (command)
        {
            case PingCommand ping:
                Send(ServerFrames.Pong(ping.Id));
                return true;
            case PongCommand:
                return true;
            case CustomCommand custom:
                RunHandler(custom);
                return false;
            case AuthCommand refresh:
                CheckToken(refresh, _settings.RefreshTimeout);
                return false;
            case PublishCommand or SendCommand when !_info.Route.AllowPublish:
                Send(ServerFrames.Error(command.Id, ErrorCodes.Forbidden, $"route '{_info.Route.Name}' is receive-only"));
                return true;
            case PublishCommand { Room: null } when !_info.Route.AllowBroadcast:
                Send(ServerFrames.Error(command.Id, ErrorCodes.Forbidden,
                    $"route '{_info.Route.Name}' does not allow route-wide broadcast; publish to a room"));
                return true;
            case PublishCommand { Room: null } broadcast:
                Context.Parent.Tell(new RouteBroadcast(_info.Route.Name, _user!.UserId, broadcast.Payload, broadcast.ExcludeSelf, broadcast.Id));
                return true;
            case JoinCommand or LeaveCommand or PublishCommand or SendCommand:
                return HandleRoomOrDirect(command);
            default:
                Send(ServerFrames.Error(command.Id, ErrorCodes.BadRequest, "unsupported command"));
                return true;
        }
    }

    /// <summary>Messages every phase handles the same way.</summary>
    private bool OnAnyPhase(object message)
    {
        switch (message)
        {
            case InboundStream.Started:
                _stream = Sender;
                AckStream();
                return true;
            case InboundStream.Completed:
                StopQuietly();
                return true;
            case HeartbeatTick:
                OnHeartbeatTick();
                return true;
            case HeartbeatSilent:
                OnHeartbeatSilent();
                return true;
            case CloseConnection close:
                CloseWith(Close.Of(close.Code, close.Reason));
                return true;
            case AuthDeadlineReached:
                // Still unauthenticated (or its token still being checked): PROTOCOL §2's deadline.
                if (_user is null) CloseWith(Close.AuthTimeout);
                return true;
            case HoldTimedOut timedOut:
                OnHoldTimedOut(timedOut);
                return true;
            default:
                return false;
        }
    }

    /// <summary>Acts on what the transport flagged; true when the frame needs no further handling.</summary>
    private bool HandleTransportVerdict(InboundFrame frame)
    {
        switch (frame.Kind)
        {
            case InboundKind.TooBig:
                CloseWith(Close.TooBig);
                return true;
            case InboundKind.InvalidUtf8:
                CloseWith(Close.InvalidUtf8);
                return true;
            case InboundKind.Flooding:
                BrokerMetrics.RateLimitHit(closed: true);
                CloseWith(Close.RateLimit);
                return true;
            case InboundKind.Binary when _user is not null:
                Send(ServerFrames.Error(null, ErrorCodes.BadRequest, "binary frames are not supported; send UTF-8 JSON text"));
                AckStream();
                return true;
            default:
                return false;
        }
    }

    private void Send(byte[] frame)
    {
        if (_closed) return;
        if (!_transport.TrySend(frame)) CutOffSlowConsumer();
    }

    /// <summary>The outbound queue is full: close 4508 without flushing the backlog.</summary>
    private void CutOffSlowConsumer()
    {
        Log.Info("Connection {ConnectionId} cut off: outbound queue full", _info.ConnectionId);
        ConnectionTelemetry.SlowConsumer();
        _closed = true;
        _heartbeat.End();
        _transport.Close(Close.SlowConsumer, discardQueued: true);
        Context.Stop(Self);
    }

    private void CloseWith(Close close)
    {
        if (_closed) return;
        _closed = true;
        _heartbeat.End();
        _transport.Close(close);
        Context.Stop(Self);
    }

    private void StopQuietly()
    {
        _heartbeat.End();
        if (!_closed)
        {
            _closed = true;
            _transport.Close(Close.Normal);
        }
        Context.Stop(Self);
    }

    private void AckStream() => _stream.Tell(InboundStream.Ack.Instance);
}
