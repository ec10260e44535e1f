using System.Text.Json;
using Akka.Actor;
using Akka.Event;
using Broker.Actors.Auth;
using Broker.Actors.Handlers;
using Broker.Actors.Rooms;
using Broker.Actors.Observability;
using Broker.Contracts.Cluster;
using Broker.Contracts.Protocol;
using static Broker.Actors.Connections.ConnectionMessages;
using static Broker.Contracts.Cluster.ConnectionCommands;

namespace Broker.Actors.Connections;

/// <summary>
/// One WebSocket connection. A state machine: <c>Unauthenticated</c> accepts only an <c>auth</c>
/// frame; once authenticated the auth handler is gone and only refreshes remain. Socket I/O is the
/// transport's; this actor only validates frames and moves messages. Heartbeat ticks and the auth
/// deadline come from the parent <see cref="ConnectionSupervisor"/>.
/// <para>
/// An <see cref="UntypedActor"/> with a phase field rather than a <c>ReceiveActor</c>: there is one
/// of these per socket, and the per-instance handler tables of <c>Receive&lt;T&gt;</c> (a delegate
/// per handler per state, match builders, argument captures) were about 2 KB of every idle
/// connection (docs/benchmarks.md). The switch below is the whole dispatch table.
/// </para>
/// </summary>
public sealed class ConnectionActor : UntypedActor
{
    private readonly ConnectionInfo _info;
    private readonly IConnectionTransport _transport;
    private readonly ConnectionSettings _settings;
    private readonly ITokenValidator _tokens;
    private readonly ConnectionServices? _services;
    private readonly HashSet<string> _rooms = new(StringComparer.Ordinal);
    private readonly RouteHandlers? _handlers;
    private ILoggingAdapter? _log; // made on first use: most connections never log
    private CancellationTokenSource? _handlerCall; // set while a custom handler holds the stream ack
    private CancellationTokenSource? _ruleCall; // set while room rules or a refresh's token check hold the stream ack
    private ICancelable? _ruleTimer; // answers that call with `unavailable` if it takes too long
    private int _ruleCallId; // which call a late answer or a stale timeout belongs to
    private ICancelable? _expiry; // the token-expiry timer, when the token has an expiry

    private IActorRef _stream = ActorRefs.Nobody;
    private AuthenticatedUser? _user;
    private Phase _phase = Phase.Unauthenticated;
    private bool _awaitingLife; // a ping went out and no frame has come in since
    private long _pingedAt; // the scheduler's UtcTicks when that ping went out
    private bool _closed;

    private enum Phase
    {
        /// <summary>Only an <c>auth</c> frame is accepted.</summary>
        Unauthenticated,
        /// <summary>The auth frame's token is being checked; the stream's ack is held meanwhile.</summary>
        AwaitingToken,
        Authenticated,
    }

    public ConnectionActor(ConnectionInfo info, IConnectionTransport transport, ConnectionSettings settings, ITokenValidator tokens,
        ConnectionServices? services = null)
    {
        _info = info;
        _transport = transport;
        _settings = settings;
        _tokens = tokens;
        _services = services;
        _handlers = services?.Handlers?.ForRoute(info.Route.Name);
    }

    public static Props Props(ConnectionInfo info, IConnectionTransport transport, ConnectionSettings settings, ITokenValidator tokens,
        ConnectionServices? services = null) =>
        Akka.Actor.Props.Create(() => new ConnectionActor(info, transport, settings, tokens, services));

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
        if (!_closed) _transport.Close(CloseCodes.Internal, CloseCodes.Reasons.Internal);
        _handlerCall?.Cancel(); // nobody is left to answer
        EndRuleCall();
        _expiry?.Cancel();
        // Rooms learn of the disconnect from the hub, which watches this actor.
        if (_user is not null) _services?.Users.Tell(new UserCommands.UnregisterConnection(_user.UserId, _info.ConnectionId));
    }

    protected override void OnReceive(object message)
    {
        var handled = _phase switch
        {
            Phase.Unauthenticated => OnUnauthenticated(message),
            Phase.AwaitingToken => OnAwaitingToken(message),
            _ => OnAuthenticated(message),
        };
        if (!handled && !OnAnyPhase(message)) Unhandled(message);
    }

    // ---- phases ----

    private bool OnUnauthenticated(object message)
    {
        switch (message)
        {
            case InboundFrame frame:
                _awaitingLife = false;
                if (HandleTransportVerdict(frame)) return true;
                var parsed = frame.Kind == InboundKind.Text ? FrameParser.Parse(frame.Utf8) : default;
                if (parsed.Command is AuthCommand auth)
                {
                    // Hold the ack: the stream delivers nothing more until the token is checked.
                    _tokens.ValidateAsync(auth.Token).PipeTo(Self,
                        success: v => new TokenChecked(v, auth.Id),
                        failure: _ => new TokenChecked(TokenValidation.Invalid("validator failed"), auth.Id));
                    _phase = Phase.AwaitingToken;
                    return true;
                }
                var id = parsed.Command?.Id ?? parsed.Error?.Id;
                ConnectionTelemetry.AuthFailed(Context.System, _info, AuthFailureReasons.NoAuthFrame, "first frame was not auth");
                Reject(id, "the first frame must be {\"type\":\"auth\",\"data\":{\"token\":\"…\"}}");
                return true;
            default:
                return false;
        }
    }

    private bool OnAwaitingToken(object message)
    {
        switch (message)
        {
            case TokenChecked checkedToken:
                _phase = Phase.Unauthenticated;
                // Clock skew lets a just-expired token validate; a connection must not outlive it even briefly.
                if (checkedToken.Result.User is { } user && !IsExpired(user))
                {
                    BecomeAuthenticated(user);
                    AckStream();
                }
                else
                {
                    var failure = checkedToken.Result.Failure ?? "token expired";
                    Log.Info("Connection {ConnectionId} rejected: {Reason}", _info.ConnectionId, failure);
                    ConnectionTelemetry.AuthFailed(Context.System, _info, AuthFailureReasons.FromValidator(failure), failure);
                    Reject(checkedToken.Id, ReservedSubjects.RefusalFor(failure, "invalid token"));
                }
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
                OnFrame(frame);
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
                if (IsCurrentRuleCall(refreshed.CallId)) OnRefreshChecked(refreshed);
                return true;
            case RuleCallTimedOut timedOut:
                OnRuleCallTimedOut(timedOut);
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
            case RoomRuleDecision decision:
                if (IsCurrentRuleCall(decision.CallId)) OnRoomRuleDecision(decision);
                return true;
            case HandlerOutcome outcome:
                OnHandlerOutcome(outcome);
                return true;
            case UserEvents.DirectDelivered delivered:
                Send(ServerFrames.SendAck(delivered.RequestId, delivered.Delivered));
                return true;
            case UserEvents.ConnectionRefused refused:
                // The user directory counted this one past Broker:Limits:MaxConnectionsPerUser.
                Log.Info("Connection {ConnectionId} refused: user at its cap of {Limit} connections", _info.ConnectionId, refused.Limit);
                BrokerMetrics.ConnectionLimitRefused(perUser: true);
                Send(ServerFrames.Error(null, ErrorCodes.Forbidden,
                    $"too many connections for this user (at most {refused.Limit}); close another connection first"));
                CloseWith(CloseCodes.Forbidden, CloseCodes.Reasons.TooManyConnections);
                return true;
            case Users.UserHub.SendUnanswered unanswered:
                Send(ServerFrames.Error(unanswered.RequestId, ErrorCodes.Unavailable, "the user's directory is moving to another node; send again"));
                return true;
            case TokenExpired:
                // A timer cancelled by a refresh may still have fired (or one may fire a tick early):
                // only a token that is really over ends the connection; otherwise wait for the current one.
                if (IsExpired(_user!)) CloseWith(CloseCodes.Unauthorized, CloseCodes.Reasons.TokenExpired);
                else ScheduleExpiry(_user!);
                return true;
            default:
                return false;
        }
    }

    private void OnFrame(InboundFrame frame)
    {
        _awaitingLife = false;
        if (HandleTransportVerdict(frame)) return;
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

    /// <summary>Messages every phase handles the same way.</summary>
    private bool OnAnyPhase(object message)
    {
        switch (message)
        {
            case InboundStream.Started:
                _stream = Sender;
                AckStream();
                return true;
            case InboundStream.Completed or InboundStream.Failed:
                StopQuietly();
                return true;
            case HeartbeatTick:
                OnHeartbeatTick();
                return true;
            case CloseConnection close:
                CloseWith(close.Code, close.Reason);
                return true;
            case AuthDeadlineReached:
                // Still unauthenticated (or its token still being checked): PROTOCOL §2's deadline.
                if (_phase != Phase.Authenticated) CloseWith(CloseCodes.Unauthorized, CloseCodes.Reasons.AuthTimeout);
                return true;
            default:
                return false;
        }
    }

    private void OnHeartbeatTick()
    {
        // Before auth the deadline governs (PROTOCOL §2), and nothing may precede welcome (§3).
        if (_user is null) return;
        var now = Context.System.Scheduler.Now.UtcTicks;
        // While a handler, the room rules or a token check hold the stream, the client's frames
        // wait unread: its silence proves nothing.
        if (_awaitingLife && _handlerCall is null && _ruleCall is null)
        {
            // Ticks queue up while the node is stalled, and the one right behind the tick that sent
            // the ping is no new interval: the client has had no time to answer it (with a short
            // interval this closed live clients). A clock that went backwards does not save a
            // silent client.
            var sincePing = now - _pingedAt;
            if (sincePing >= 0 && sincePing < _settings.HeartbeatInterval.Ticks / 2) return;
            ConnectionTelemetry.HeartbeatTerminated();
            CloseWith(CloseCodes.Policy, CloseCodes.Reasons.HeartbeatTimeout);
            return;
        }
        _awaitingLife = true;
        _pingedAt = now;
        Send(ServerFrames.Ping);
    }

    // ---- authenticated commands ----

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
            {
                // Bounded: a validator that hangs (e.g. fetching signing keys) answers `unavailable`
                // and the connection keeps its current token; it is not a rejection.
                var (callId, token) = BeginRuleCall(refresh.Id, _settings.RefreshTimeout, "the token check did not answer in time; the current token stays, refresh again");
                _tokens.ValidateAsync(refresh.Token, token).PipeTo(Self,
                    success: v => new TokenChecked(v, refresh.Id, callId),
                    failure: _ => new TokenChecked(TokenValidation.Invalid("validator failed"), refresh.Id, callId));
                return false;
            }
            case PublishCommand publish when !_info.Route.AllowPublish:
                Send(ServerFrames.Error(publish.Id, ErrorCodes.Forbidden, $"route '{_info.Route.Name}' is receive-only"));
                return true;
            case SendCommand send when !_info.Route.AllowPublish:
                Send(ServerFrames.Error(send.Id, ErrorCodes.Forbidden, $"route '{_info.Route.Name}' is receive-only"));
                return true;
            case PublishCommand { Room: null } broadcast when !_info.Route.AllowBroadcast:
                Send(ServerFrames.Error(broadcast.Id, ErrorCodes.Forbidden,
                    $"route '{_info.Route.Name}' does not allow route-wide broadcast; publish to a room"));
                return true;
            case PublishCommand { Room: null } broadcast:
                Context.Parent.Tell(new RouteBroadcast(_info.Route.Name, _user!.UserId, broadcast.Payload, broadcast.ExcludeSelf, broadcast.Id));
                return true;
            case not (JoinCommand or LeaveCommand or PublishCommand or SendCommand):
                Send(ServerFrames.Error(command.Id, ErrorCodes.BadRequest, "unsupported command"));
                return true;
        }
        if (_services is null)
        {
            Send(ServerFrames.Error(command.Id, ErrorCodes.NotFound, "rooms and direct messages are not enabled on this node"));
            return true;
        }
        if (NeedsAuthorization(command, _services) is { } rules)
        {
            // Hold the stream's ack until the application's rules answer, so the connection's
            // commands still reach the room in the order it sent them.
            // Bounded, so slow rules cost the client one `unavailable`, never the connection.
            var (userId, room) = (_user!.UserId, command is JoinCommand j ? j.Room : ((PublishCommand)command).Room!);
            var (callId, token) = BeginRuleCall(command.Id, _settings.RoomRuleTimeout, "the room rules did not answer in time; not applied, retry");
            var decision = command is JoinCommand ? rules.MayJoinAsync(userId, room, token) : rules.MayPublishAsync(userId, room, token);
            decision.AsTask().PipeTo(Self,
                success: allowed => new RoomRuleDecision(command, allowed, callId),
                failure: _ => new RoomRuleDecision(command, false, callId));
            return false;
        }
        Dispatch(command, _services);
        return true;
    }

    /// <summary>The rules to ask before this command, or null when nothing needs asking.</summary>
    private IRoomAuthorizer? NeedsAuthorization(ClientCommand command, ConnectionServices services)
    {
        if (services.Authorizer is null or AllowAllRooms) return null;
        var ruled = command is JoinCommand || command is PublishCommand { Room: { } room } && _rooms.Contains(room);
        return ruled ? services.Authorizer : null;
    }

    /// <summary>
    /// Starts a room-rule or refresh call that holds the stream's ack, with a virtual-time deadline
    /// (the actor's scheduler, so specs advance it) after which the request gets <c>unavailable</c>.
    /// </summary>
    private (int CallId, CancellationToken Token) BeginRuleCall(string? requestId, TimeSpan timeout, string message)
    {
        var call = _ruleCall = new CancellationTokenSource();
        var callId = ++_ruleCallId;
        _ruleTimer = Context.System.Scheduler.ScheduleTellOnceCancelable(
            timeout, Self, new RuleCallTimedOut(callId, requestId, message), ActorRefs.NoSender);
        return (callId, call.Token);
    }

    /// <summary>True (and the call ended) when an answer belongs to the call still waiting; a late one is dropped.</summary>
    private bool IsCurrentRuleCall(int callId)
    {
        if (_ruleCall is null || callId != _ruleCallId) return false;
        EndRuleCall();
        return true;
    }

    private void EndRuleCall()
    {
        _ruleTimer?.Cancel();
        _ruleTimer = null;
        if (_ruleCall is not { } call) return;
        _ruleCall = null;
        call.Cancel(); // a call still running learns nobody waits for it
        call.Dispose();
    }

    private void OnRuleCallTimedOut(RuleCallTimedOut timedOut)
    {
        if (_ruleCall is null || timedOut.CallId != _ruleCallId) return;
        EndRuleCall();
        Log.Warning("Connection {ConnectionId}: {Message}", _info.ConnectionId, timedOut.Message);
        // PROTOCOL §9.1: not applied, retry. The connection stays, with its current token.
        Send(ServerFrames.Error(timedOut.RequestId, ErrorCodes.Unavailable, timedOut.Message));
        AckStream();
    }

    private void OnRoomRuleDecision(RoomRuleDecision decision)
    {
        AckStream();
        if (decision.Allowed) Dispatch(decision.Command, _services!);
        else Send(ServerFrames.Error(decision.Command.Id, ErrorCodes.Forbidden, "not allowed in this room"));
    }

    /// <summary>
    /// Runs the application's handler off this actor's thread and holds the stream's ack until it
    /// answers, so the connection's replies keep the order of its requests.
    /// </summary>
    private void RunHandler(CustomCommand command)
    {
        var context = new BrokerMessageContext(_user!.UserId, _info.ConnectionId, _info.Route.Name, command.Type, command.Id);
        var call = _handlerCall = new CancellationTokenSource(_handlers!.Timeout);
        InvokeAsync(_handlers.Handlers[command.Type], context, command.Data, _handlers.Timeout, call.Token)
            .PipeTo(Self, success: outcome => outcome, failure: e => new HandlerOutcome(context, null, e));
    }

    private static async Task<HandlerOutcome> InvokeAsync(
        IBrokerMessageHandler handler, BrokerMessageContext context, JsonElement data, TimeSpan timeout, CancellationToken token)
    {
        try
        {
            // Task.Run: even a handler that works synchronously before its first await stays off the actor's thread.
            // WaitAsync: a handler that ignores its token still cannot hold the connection past the timeout.
            var reply = await Task.Run(() => handler.HandleAsync(context, data, token).AsTask(), token).WaitAsync(timeout, token);
            return new HandlerOutcome(context, reply, null);
        }
        catch (Exception e)
        {
            return new HandlerOutcome(context, null, e);
        }
    }

    private void OnHandlerOutcome(HandlerOutcome outcome)
    {
        _handlerCall?.Dispose();
        _handlerCall = null;
        if (outcome.Failure is { } failure)
        {
            // The exception stays in the server log; the client learns only that its request failed.
            Log.Error(failure, "Handler for '{Type}' failed on connection {ConnectionId}", outcome.Context.Type, _info.ConnectionId);
            Send(ServerFrames.Error(outcome.Context.RequestId, ErrorCodes.Internal, $"the server could not handle '{outcome.Context.Type}'"));
        }
        else if (outcome.Reply is { } reply)
        {
            Send(reply.ToFrame(outcome.Context.RequestId));
        }
        AckStream();
    }

    private void Dispatch(ClientCommand command, ConnectionServices services)
    {
        switch (command)
        {
            case JoinCommand join:
                Join(join, services);
                break;
            case LeaveCommand leave:
                ConnectionTelemetry.Left(Context.System, _info, _user!.UserId, leave.Room);
                if (_rooms.Remove(leave.Room)) UpdateUserRooms(services);
                services.RoomHub.Tell(new RoomCommands.LeaveRoom(leave.Room, _info.ConnectionId, leave.Id, Reply: true));
                break;
            case PublishCommand publish when !_rooms.Contains(publish.Room!):
                Send(ServerFrames.Error(publish.Id, ErrorCodes.Forbidden, $"join room '{publish.Room}' before publishing to it"));
                break;
            case PublishCommand publish:
                services.RoomHub.Tell(new RoomCommands.PublishToRoom(
                    publish.Room!, _info.ConnectionId, _user!.UserId, ServerFrames.RawJson(publish.Payload), publish.ExcludeSelf, publish.Id));
                break;
            case SendCommand send:
                services.Users.Tell(new UserCommands.SendToUser(send.User, _user!.UserId, ServerFrames.RawJson(send.Payload), send.Id));
                break;
        }
    }

    private void Join(JoinCommand join, ConnectionServices services)
    {
        if (!_rooms.Contains(join.Room) && _rooms.Count >= _settings.MaxRoomsPerConnection)
        {
            Send(ServerFrames.Error(join.Id, ErrorCodes.Forbidden, $"a connection may be in at most {_settings.MaxRoomsPerConnection} rooms"));
            return;
        }
        // Per user, all its connections on this node together: churn is what floods a room's members.
        if (services.Joins is { } joins && !joins.TryJoin(_user!.UserId))
        {
            BrokerMetrics.JoinsRateLimited.Add(1);
            Send(ServerFrames.Error(join.Id, ErrorCodes.RateLimited, "too many joins by this user; slow down"));
            return;
        }
        if (_rooms.Add(join.Room)) UpdateUserRooms(services);
        ConnectionTelemetry.Joined(Context.System, _info, _user!.UserId, join.Room);
        // The hub queues the room's frames on this socket itself (see RoomHub); refusals come back as OutboundRefused.
        services.RoomHub.Tell(new RoomHub.LocalJoin(new RoomCommands.JoinRoom(
            join.Room, _info.ConnectionId, _user!.UserId, Self, services.RoomHub, join.Id, join.Since?.Epoch, join.Since?.Offset), _transport));
    }

    private void UpdateUserRooms(ConnectionServices services) =>
        services.Users.Tell(new UserCommands.UpdateRooms(_user!.UserId, _info.ConnectionId, _rooms.ToArray()));

    private void OnRefreshChecked(TokenChecked result)
    {
        AckStream();
        if (result.Result.User is { } user && user.UserId == _user!.UserId && !IsExpired(user))
        {
            _user = user;
            ScheduleExpiry(user);
            Send(ServerFrames.Refreshed(result.Id, user.ExpiresAt?.ToUnixTimeMilliseconds() ?? 0));
            return;
        }
        var why = result.Result.User is null ? result.Result.Failure : "different subject";
        Log.Info("Connection {ConnectionId} refresh rejected: {Reason}", _info.ConnectionId, why);
        ConnectionTelemetry.AuthFailed(Context.System, _info, AuthFailureReasons.RefreshRejected, why);
        Reject(result.Id, result.Result.User is null ? ReservedSubjects.RefusalFor(why, "invalid token") : "a refresh must be for the same user");
    }

    private void BecomeAuthenticated(AuthenticatedUser user)
    {
        _user = user;
        _phase = Phase.Authenticated;
        Context.Parent.Tell(new ConnectionMessages.Authenticated(user.UserId));
        ConnectionTelemetry.Authenticated(Context.System, _info, user.UserId);
        // Anonymous ids are one per connection: a cap would never count past 1.
        var limit = _info.Route.Anonymous && _info.User is null ? 0 : _settings.MaxConnectionsPerUser;
        _services?.Users.Tell(new UserCommands.RegisterConnection(user.UserId, _info.ConnectionId, Self, Limit: limit));
        ScheduleExpiry(user);
        Send(ServerFrames.Welcome(new WelcomeData(
            _info.ConnectionId,
            user.UserId,
            _settings.NodeName,
            user.ExpiresAt?.ToUnixTimeMilliseconds(),
            new HeartbeatData((long)_settings.HeartbeatInterval.TotalMilliseconds, (long)_settings.HeartbeatTimeout.TotalMilliseconds))));
    }

    private bool IsExpired(AuthenticatedUser user) => user.ExpiresAt is { } expiresAt && expiresAt <= Context.System.Scheduler.Now;

    private void ScheduleExpiry(AuthenticatedUser user)
    {
        // A plain scheduled tell rather than IWithTimers: the timer scheduler's per-actor tables
        // were a visible share of an idle connection. A refresh cancels and reschedules; a tell
        // that was already on its way is ignored (TokenExpired checks the current token).
        _expiry?.Cancel();
        _expiry = null;
        if (user.ExpiresAt is not { } expiresAt) return;
        var delay = expiresAt - Context.System.Scheduler.Now;
        if (delay <= TimeSpan.Zero) Self.Tell(TokenExpired.Instance);
        else _expiry = Context.System.Scheduler.ScheduleTellOnceCancelable(delay, Self, TokenExpired.Instance, ActorRefs.NoSender);
    }

    // ---- helpers ----

    /// <summary>Acts on what the transport flagged; true when the frame needs no further handling.</summary>
    private bool HandleTransportVerdict(InboundFrame frame)
    {
        switch (frame.Kind)
        {
            case InboundKind.TooBig:
                CloseWith(CloseCodes.TooBig, CloseCodes.Reasons.TooBig);
                return true;
            case InboundKind.InvalidUtf8:
                CloseWith(CloseCodes.InvalidPayload, CloseCodes.Reasons.InvalidUtf8);
                return true;
            case InboundKind.Flooding:
                BrokerMetrics.RateLimitHit(closed: true);
                CloseWith(CloseCodes.Policy, CloseCodes.Reasons.RateLimit);
                return true;
            case InboundKind.Binary when _user is not null:
                Send(ServerFrames.Error(null, ErrorCodes.BadRequest, "binary frames are not supported; send UTF-8 JSON text"));
                AckStream();
                return true;
            default:
                return false;
        }
    }

    /// <summary>Unauthorized: an error frame, then close 4401 (PROTOCOL §2).</summary>
    private void Reject(string? id, string message)
    {
        Send(ServerFrames.Error(id, ErrorCodes.Unauthorized, message));
        CloseWith(CloseCodes.Unauthorized, CloseCodes.Reasons.Unauthorized);
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
        _transport.Close(CloseCodes.SlowConsumer, CloseCodes.Reasons.SlowConsumer, discardQueued: true);
        Context.Stop(Self);
    }

    private void CloseWith(int code, string reason)
    {
        if (_closed) return;
        _closed = true;
        _transport.Close(code, reason);
        Context.Stop(Self);
    }

    private void StopQuietly()
    {
        if (!_closed)
        {
            _closed = true;
            _transport.Close(CloseCodes.Normal, "");
        }
        Context.Stop(Self);
    }

    private void AckStream() => _stream.Tell(InboundStream.Ack.Instance);

    private sealed record RoomRuleDecision(ClientCommand Command, bool Allowed, int CallId);

    private sealed record RuleCallTimedOut(int CallId, string? RequestId, string Message);

    private sealed record HandlerOutcome(BrokerMessageContext Context, HandlerReply? Reply, Exception? Failure);

    private sealed record TokenChecked(TokenValidation Result, string? Id, int CallId = 0);

    private sealed class TokenExpired { public static readonly TokenExpired Instance = new(); private TokenExpired() { } }
}
