using Akka.Actor;
using Akka.Event;
using Broker.Actors.Auth;
using Broker.Actors.Observability;
using Broker.Contracts.Cluster;
using Broker.Contracts.Protocol;
using static Broker.Actors.Connections.ConnectionMessages;

namespace Broker.Actors.Connections;

/// <summary>
/// The per-node parent of every <see cref="ConnectionActor"/>. It owns the one heartbeat timer of
/// the node and the auth state of its connections (who is authenticated, whose deadline is
/// running), and keeps the route tables used for route-wide broadcasts; a server-side route
/// broadcast is delivered here and sent once to each other node's supervisor. A connection that throws
/// is stopped (its socket closed 1011), never restarted onto a socket it no longer understands.
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
    private readonly Dictionary<string, HashSet<IActorRef>> _byRoute = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, long> _routeOffsets = new(StringComparer.OrdinalIgnoreCase);
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
        Receive<HeartbeatTick>(tick =>
        {
            foreach (var connection in _connections.Keys) connection.Tell(tick);
        });
        Receive<RouteBroadcast>(OnRouteBroadcast);
        Receive<PublishToRoute>(OnPublishToRoute);
        Receive<RouteCommands.DeliverToRoute>(deliver => DeliverToRoute(deliver.Route, deliver.From, deliver.Payload, null));
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
            var byRoute = _byRoute.ToDictionary(kv => kv.Key, kv => kv.Value.Count);
            Sender.Tell(new Stats(_connections.Count, _connections.Values.Count(e => e.UserId is not null), byRoute));
        });
    }

    public static Props Props(ConnectionSettings settings, ITokenValidator tokens, ConnectionServices? services = null) =>
        Akka.Actor.Props.Create(() => new ConnectionSupervisor(settings, tokens, services));

    protected override void PreStart() =>
        Timers.StartPeriodicTimer(HeartbeatTimer, HeartbeatTick.Instance, _settings.HeartbeatInterval);

    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(ex =>
        {
            _log.Error(ex, "Connection actor failed; stopping it (its socket closes with 1011)");
            return Directive.Stop;
        });

    private void OnAccept(Accept accept)
    {
        var props = ConnectionActor.Props(accept.Info, accept.Transport, _settings, _tokens, _services);
        if (_hasConnectionMailbox) props = props.WithMailbox(ConnectionMailbox);
        var child = Context.ActorOf(props, "c-" + accept.Info.ConnectionId);
        Context.Watch(child);
        // Every connection is counted pending here, ticket handshakes included: the one way into
        // "authenticated" is the connection's own Authenticated message (OnAuthenticated), so the
        // gauge moves once per connection and leaves from the state the entry records.
        _connections[child] = new Entry(accept.Info, accept.Info.User?.UserId, Counted: ConnectionTelemetry.CountOpened(accept.Info, _settings.NodeName));
        if (!_byRoute.TryGetValue(accept.Info.Route.Name, out var members))
            _byRoute[accept.Info.Route.Name] = members = new HashSet<IActorRef>();
        members.Add(child);
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

    private void OnRouteBroadcast(RouteBroadcast broadcast)
    {
        var offset = DeliverToRoute(broadcast.Route, broadcast.From, ServerFrames.RawJson(broadcast.Payload), broadcast.ExcludeSender ? Sender : null);
        Sender.Tell(new RouteBroadcastAccepted(broadcast.Id, offset));
    }

    private void OnPublishToRoute(PublishToRoute publish)
    {
        var offset = DeliverToRoute(publish.Route, publish.From, publish.Payload, null);
        // One message per other node, whether or not it has connections on the route: asking first
        // would cost a round trip, and a node with nobody there drops it at once.
        if (((ExtendedActorSystem)Context.System).Provider is Akka.Cluster.ClusterActorRefProvider)
        {
            var cluster = Akka.Cluster.Cluster.Get(Context.System);
            var toPeers = new RouteCommands.DeliverToRoute(publish.Route, publish.From, publish.Payload);
            foreach (var member in cluster.State.Members)
            {
                if (member.Address == cluster.SelfAddress || member.Status is not (Akka.Cluster.MemberStatus.Up or Akka.Cluster.MemberStatus.WeaklyUp))
                    continue;
                Context.ActorSelection(new RootActorPath(member.Address) / Self.Path.Elements).Tell(toPeers, Self);
            }
        }
        Sender.Tell(new RouteBroadcastAccepted(null, offset));
    }

    /// <summary>Delivers to this node's connections of <paramref name="route"/>; returns the route offset (unchanged when nobody is there).</summary>
    private long DeliverToRoute(string route, string from, byte[] payload, IActorRef? exclude)
    {
        // Nobody on the route here: nothing delivered, no offset used.
        if (!_byRoute.TryGetValue(route, out var members)) return _routeOffsets.GetValueOrDefault(route);
        var offset = _routeOffsets[route] = _routeOffsets.GetValueOrDefault(route) + 1;
        // Serialized once; every member gets the same array.
        var frame = ServerFrames.Message(null, offset, null, from, payload);
        var deliver = new Deliver(frame, BrokerMetrics.FanOutStamp(frame, route: true));
        BrokerMetrics.RoutePublished();
        foreach (var member in members)
        {
            if (member.Equals(exclude)) continue;
            member.Tell(deliver);
        }
        return offset;
    }

    private void OnTerminated(IActorRef connection)
    {
        if (!_connections.Remove(connection, out var entry)) return;
        ConnectionTelemetry.CountClosed(entry.Info, _settings.NodeName, entry.Counted);
        Timers.Cancel(DeadlineKey(entry.Info.ConnectionId));
        if (_byRoute.TryGetValue(entry.Info.Route.Name, out var members))
        {
            members.Remove(connection);
            if (members.Count == 0) _byRoute.Remove(entry.Info.Route.Name);
        }
        if (_connections.Count == 0 && _closeAllWaiters.Count > 0)
        {
            foreach (var waiter in _closeAllWaiters) waiter.Tell(AllClosed.Instance);
            _closeAllWaiters.Clear();
        }
    }

    private static string DeadlineKey(string connectionId) => "auth-" + connectionId;

    /// <summary>A live connection: who it is (known at accept for a ticket) and the gauge state it is counted in.</summary>
    private sealed record Entry(ConnectionInfo Info, string? UserId, ConnectionTelemetry.GaugeState Counted);

    private sealed record DeadlineFor(IActorRef Connection);
}
