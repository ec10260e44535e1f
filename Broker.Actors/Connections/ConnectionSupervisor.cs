using Akka.Actor;
using Akka.Event;
using Broker.Actors.Auth;
using Broker.Actors.Observability;
using Broker.Actors.Routes;
using Broker.Contracts.Cluster;
using Broker.Contracts.Protocol;
using static Broker.Actors.Connections.ConnectionMessages;
using static Broker.Contracts.Cluster.ConnectionCommands;

namespace Broker.Actors.Connections;

/// <summary>
/// The per-node parent of every <see cref="ConnectionActor"/>. It owns the one heartbeat timer of
/// the node and the auth state of its connections (who is authenticated, whose deadline is
/// running), closes them all on shutdown and counts them. Route-wide broadcasts are addressed to
/// it (it knows each connection's route) and handed to its <see cref="RouteBroadcaster"/>. A
/// connection that throws is stopped (its socket closed 1011), never restarted onto a socket it
/// no longer understands.
/// </summary>
public sealed class ConnectionSupervisor : ReceiveActor, IWithTimers
{
    private const string HeartbeatTimer = "heartbeat";
    private const string ConnectionMailbox = "broker.connection-mailbox";

    private readonly ConnectionSettings _settings;
    private readonly ITokenValidator _tokens;
    private readonly ConnectionServices? _services;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    // Configured by the host (hocon/broker.hocon); a bare ActorSystem, as in specs, keeps Akka's default mailbox.
    private readonly bool _hasConnectionMailbox = Context.System.Settings.Config.HasPath(ConnectionMailbox);
    private readonly Dictionary<IActorRef, Entry> _connections = new();
    private readonly RouteBroadcaster _routes = new();
    private readonly List<IActorRef> _closeAllWaiters = new();
    private CloseConnection? _closingAll; // what every connection gets once the node started closing them all (shutdown)

    public ITimerScheduler Timers { get; set; } = null!;

    public ConnectionSupervisor(ConnectionSettings settings, ITokenValidator tokens, ConnectionServices? services = null)
    {
        _settings = settings;
        _tokens = tokens;
        _services = services;

        Receive<Accept>(OnAccept);
        Receive<ConnectionMessages.Authenticated>(OnAuthenticated);
        Receive<DeadlineFor>(deadline =>
        {
            if (_connections.TryGetValue(deadline.Connection, out var entry) && entry.UserId is null)
            {
                ConnectionTelemetry.AuthFailed(Context.System, entry.Info, AuthFailureReasons.Timeout, "no auth frame in time");
                deadline.Connection.Tell(AuthDeadlineReached.Instance);
            }
        });
        Receive<HeartbeatTick>(_ => OnHeartbeatTick());
        Receive<RouteBroadcast>(broadcast =>
        {
            var exclude = broadcast.ExcludeSender ? Sender : null;
            var offset = _routes.Deliver(broadcast.Route, broadcast.From, ServerFrames.RawJson(broadcast.Payload), exclude);
            Sender.Tell(new RouteBroadcastAccepted(broadcast.Id, offset));
        });
        Receive<PublishToRoute>(publish =>
            Sender.Tell(new RouteBroadcastAccepted(null, _routes.PublishToCluster(Context.System, Self, publish.Route, publish.From, publish.Payload))));
        Receive<RouteCommands.DeliverToRoute>(deliver => _routes.Deliver(deliver.Route, deliver.From, deliver.Payload, exclude: null));
        Receive<Terminated>(t => OnTerminated(t.ActorRef));
        Receive<CloseAll>(closeAll =>
        {
            _closingAll = new CloseConnection(closeAll.Close.Code, closeAll.Close.Reason);
            if (_connections.Count == 0)
            {
                Sender.Tell(AllClosed.Instance);
                return;
            }
            _closeAllWaiters.Add(Sender);
            foreach (var connection in _connections.Keys)
                connection.Tell(_closingAll);
        });
        Receive<GetStats>(_ =>
        {
            Sender.Tell(new Stats(_connections.Count, _connections.Values.Count(e => e.UserId is not null), _routes.Counts()));
        });
    }

    public static Props Props(ConnectionSettings settings, ITokenValidator tokens, ConnectionServices? services = null) =>
        Akka.Actor.Props.Create(() => new ConnectionSupervisor(settings, tokens, services));

    protected override void PreStart() => ScheduleNextTick();

    /// <summary>
    /// The next tick one whole interval after this one, not at a fixed rate: the scheduler's wheel
    /// fires a periodic timer up to a wheel tick (10 ms) early or late, so two fixed-rate ticks can
    /// come two thirds of an interval apart, and a client whose pong was still in flight was judged
    /// silent (seen with a 30 ms interval under load). Re-armed as each tick is handled, the next one
    /// comes at least an interval later, so a client always has that long to answer; a stalled
    /// node ticks later instead of in a burst (which also keeps the half-interval guard in
    /// ConnectionHeartbeat.Tick for ticks sent to an actor directly, as specs do).
    /// </summary>
    private void ScheduleNextTick() =>
        Timers.StartSingleTimer(HeartbeatTimer, HeartbeatTick.Instance, _settings.HeartbeatInterval);

    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(ex =>
        {
            _log.Error(ex, "Connection actor failed; stopping it (its socket closes with 1011)");
            return Directive.Stop;
        });

    private void OnAccept(Accept accept)
    {
        var heartbeat = accept.Heartbeat ?? new ConnectionHeartbeat();
        var props = ConnectionActor.Props(accept.Info, accept.Transport, _settings, _tokens, _services, heartbeat);
        if (_hasConnectionMailbox) props = props.WithMailbox(ConnectionMailbox);
        var child = Context.ActorOf(props, "c-" + accept.Info.ConnectionId);
        Context.Watch(child);
        // Every connection is counted pending here, ticket handshakes included: the one way into
        // "authenticated" is the connection's own Authenticated message (OnAuthenticated), so the
        // gauge moves once per connection and leaves from the state the entry records.
        _connections[child] = new Entry(accept.Info, accept.Info.User?.UserId, accept.Transport, heartbeat,
            Counted: ConnectionTelemetry.CountOpened(accept.Info, _settings.NodeName));
        _routes.Add(accept.Info.Route.Name, child);
        if (accept.Info.User is null && !accept.Info.Route.Anonymous)
            Timers.StartSingleTimer(DeadlineKey(accept.Info.ConnectionId), new DeadlineFor(child), _settings.AuthTimeout);
        Sender.Tell(child);
        // A handshake that finished while the node was closing everything would otherwise live on
        // (until its auth deadline, or for good): it gets the same close as the others.
        if (_closingAll is { } closing) child.Tell(closing);
    }

    private void OnAuthenticated(ConnectionMessages.Authenticated authenticated)
    {
        if (!_connections.TryGetValue(Sender, out var entry)) return;
        _connections[Sender] = entry with
        {
            UserId = authenticated.UserId,
            Counted = ConnectionTelemetry.CountAuthenticated(entry.Info, _settings.NodeName, entry.Counted),
        };
        Timers.Cancel(DeadlineKey(entry.Info.ConnectionId));
    }

    private void OnTerminated(IActorRef connection)
    {
        if (!_connections.Remove(connection, out var entry)) return;
        ConnectionTelemetry.CountClosed(entry.Info, _settings.NodeName, entry.Counted);
        Timers.Cancel(DeadlineKey(entry.Info.ConnectionId));
        _routes.Remove(entry.Info.Route.Name, connection);
        if (_connections.Count == 0 && _closeAllWaiters.Count > 0)
        {
            foreach (var waiter in _closeAllWaiters) waiter.Tell(AllClosed.Instance);
            _closeAllWaiters.Clear();
        }
    }

    /// <summary>
    /// One pass over every connection per interval, pinging each socket directly: a message per
    /// connection per tick (its mailbox run, dispatch and the actor's turn) was most of a ping's cost
    /// (docs/benchmarks.md, "Heartbeat"). The actor hears only of a silent client, to close it, and of
    /// a full queue, to cut a slow consumer off.
    /// </summary>
    private void OnHeartbeatTick()
    {
        ScheduleNextTick();
        var now = Context.System.Scheduler.Now.UtcTicks;
        var interval = _settings.HeartbeatInterval.Ticks;
        foreach (var (connection, entry) in _connections)
        {
            switch (entry.Heartbeat.Tick(now, interval))
            {
                case HeartbeatVerdict.Ping:
                    if (!entry.Transport.TrySend(ServerFrames.Ping)) connection.Tell(OutboundRefused.Instance);
                    break;
                case HeartbeatVerdict.Silent:
                    connection.Tell(HeartbeatSilent.Instance);
                    break;
            }
        }
    }

    private static string DeadlineKey(string connectionId) => "auth-" + connectionId;

    /// <summary>
    /// A live connection: who it is (known at accept for a ticket), its socket and heartbeat (the
    /// tick pings it directly) and the gauge state it is counted in.
    /// </summary>
    private sealed record Entry(ConnectionInfo Info, string? UserId, IConnectionTransport Transport, ConnectionHeartbeat Heartbeat,
        ConnectionTelemetry.GaugeState Counted);

    private sealed record DeadlineFor(IActorRef Connection);
}
