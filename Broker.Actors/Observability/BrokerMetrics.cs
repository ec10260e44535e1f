using System.Diagnostics;
using System.Diagnostics.Metrics;
using Akka.Cluster;
using Broker.Actors.Rooms;

namespace Broker.Actors.Observability;

/// <summary>
/// The broker's instruments, on one static <see cref="Meter"/> named <see cref="MeterName"/>. The
/// host exports them as Prometheus text on <c>GET /metrics</c> (docs/observability.md lists them).
/// Hot-path helpers take no strings: tags are static arrays chosen by a switch, so a frame or a
/// delivery costs one <c>Add</c>. The meter is process-wide: several nodes in one process (tests)
/// add to the same series; the gauges that read per-node state carry a <c>node</c> tag.
/// </summary>
public static class BrokerMetrics
{
    /// <summary>The meter's name, for <c>AddMeter</c>.</summary>
    public const string MeterName = "Broker";

    /// <summary>The meter every broker instrument lives on.</summary>
    public static readonly Meter Meter = new(MeterName, "1.0");

    /// <summary>Open WebSockets by <c>route</c>, <c>state</c> (pending|authenticated) and <c>node</c>.</summary>
    public static readonly UpDownCounter<long> Connections = Meter.CreateUpDownCounter<long>(
        "broker_connections", description: "Open WebSocket connections by route, state (pending = not yet authenticated, authenticated) and node.");

    /// <summary>Connections closed, by the close code the broker sent.</summary>
    public static readonly Counter<long> ConnectionsClosed = Meter.CreateCounter<long>(
        "broker_connections_closed_total", description: "WebSocket connections closed, by route and the close code the broker sent (1000 also when the client closed first).");

    public static readonly Counter<long> FramesIn = Meter.CreateCounter<long>(
        "broker_frames_in_total", description: "Whole WebSocket messages received from clients (all routes).");

    public static readonly Counter<long> BytesIn = Meter.CreateCounter<long>(
        "broker_bytes_in_total", description: "Payload bytes of the WebSocket messages received from clients.");

    public static readonly Counter<long> FramesOut = Meter.CreateCounter<long>(
        "broker_frames_out_total", description: "WebSocket messages written to clients (every server frame, not only messages).");

    public static readonly Counter<long> BytesOut = Meter.CreateCounter<long>(
        "broker_bytes_out_total", description: "Payload bytes of the WebSocket messages written to clients.");

    /// <summary>Writes (each a flush) of the sockets' write loops, by <c>route</c>: fewer than frames out means backlogs went out batched.</summary>
    public static readonly Counter<long> SocketFlushes = Meter.CreateCounter<long>(
        "broker_socket_flushes_total", description: "Writes to client sockets by the outbound write loop, by route, each one write and flush: one per frame when a socket keeps up, one per batch of queued frames (broker_frames_out_total / this = frames per flush).");

    public static readonly Counter<long> Publishes = Meter.CreateCounter<long>(
        "broker_publishes_total", description: "Messages accepted for fan-out, by kind: room (counted by the room, once per publish), route (route-wide broadcast), direct (send to a user).");

    public static readonly Counter<long> Deliveries = Meter.CreateCounter<long>(
        "broker_deliveries_total", description: "Message frames queued to a connection's socket, by kind: room and route (counted on the member's node), direct (counted by the user's directory entry, one per target connection).");

    public static readonly Histogram<double> DeliveryLatency = Meter.CreateHistogram(
        "broker_delivery_latency", unit: "s",
        description: "Node-local fan-out latency: room messages, once per broadcast and node, from the node's room hub taking the broadcast to the frame being queued on the last local member's socket; route messages, once per member, from the route broadcaster taking the broadcast to the frame being queued on the member's socket. Excludes the room-to-node hop and the socket write.",
        tags: null,
        advice: new InstrumentAdvice<double>
        {
            HistogramBucketBoundaries = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
        });

    public static readonly Counter<long> HeartbeatTerminations = Meter.CreateCounter<long>(
        "broker_heartbeat_terminations_total", description: "Connections closed (1008) because they sent nothing for a whole heartbeat interval.");

    public static readonly Counter<long> AuthFailures = Meter.CreateCounter<long>(
        "broker_auth_failures_total", description: "Refused or ended authentications, by reason (see docs/observability.md).");

    public static readonly Counter<long> ConnectionLimitRefusals = Meter.CreateCounter<long>(
        "broker_connection_limit_refusals_total", description: "Connections refused by a connection cap, by limit: per_user (close 4403, Broker:Limits:MaxConnectionsPerUser) or per_ip (HTTP 429 before the upgrade, Broker:Limits:MaxConnectionsPerIp).");

    public static readonly Counter<long> SlowConsumerCloses = Meter.CreateCounter<long>(
        "broker_slow_consumer_closes_total", description: "Connections closed 4508 because their outbound queue was full.");

    public static readonly Counter<long> RateLimited = Meter.CreateCounter<long>(
        "broker_rate_limited_total", description: "Inbound rate-limit hits, by action: rejected (error rate_limited, connection stays) or closed (sustained flooding, close 1008).");

    public static readonly UpDownCounter<long> RoomsActive = Meter.CreateUpDownCounter<long>(
        "broker_rooms_active", description: "Room entities alive on the nodes of this process (a room passivates when idle and empty).");

    public static readonly Counter<long> RemoteHops = Meter.CreateCounter<long>(
        "broker_remote_hops_total", description: "Room broadcasts sent by a room to hubs on other nodes, by kind (message|presence); divide by room publishes for hops per broadcast.");

    public static readonly Counter<long> PublishesDeduplicated = Meter.CreateCounter<long>(
        "broker_publishes_deduplicated_total", description: "Room publishes not applied again because their idempotencyKey was seen within the window (PROTOCOL §9.2).");

    public static readonly Counter<long> RoomStoreFailures = Meter.CreateCounter<long>(
        "broker_room_store_failures_total", description: "Times a durable room's journal failed (a write or recovery the database did not take); publishes meanwhile get unavailable.");

    public static readonly Counter<long> RoomMoves = Meter.CreateCounter<long>(
        "broker_room_moves_total", description: "Times a node's room hub lost the room incarnation it talked to (node loss, hand-off) and re-registered its members with the next one.");

    public static readonly Counter<long> RoomResyncs = Meter.CreateCounter<long>(
        "broker_room_resyncs_total", description: "Members that stayed joined through a room's loss of history and were given the new epoch (a joined without id, recovered:false).");

    public static readonly Counter<long> RoomGaps = Meter.CreateCounter<long>(
        "broker_room_gaps_total", description: "Broadcasts that arrived at a node's hub after a gap in offsets, by outcome: filled (the range fetched from history) or announced (history no longer had it: joined, recovered:false).");

    public static readonly Counter<long> PresenceHeld = Meter.CreateCounter<long>(
        "broker_presence_coalesced_total", description: "Presence changes held past a room's per-window burst and coalesced (a join and leave inside the window cancel out; too many become one occupancy frame).");

    public static readonly Counter<long> AccessLogDropped = Meter.CreateCounter<long>(
        "broker_access_log_dropped_total", description: "Access-log events dropped because Broker:Limits:AccessLogQueue events were already waiting for the log sink (closes are never dropped).");

    public static readonly Counter<long> JoinsRateLimited = Meter.CreateCounter<long>(
        "broker_joins_rate_limited_total", description: "Joins refused with error rate_limited because their user joined faster than Broker:Limits:JoinsPerSecondPerUser on this node.");

    public static readonly Counter<long> HistoryTrims = Meter.CreateCounter<long>(
        "broker_history_trimmed_total", description: "Room history entries dropped before their HistorySize, by reason: room (the room's HistoryMaxBytes) or node (the node's HistoryNodeMaxBytes).");

    private static readonly List<(Cluster Cluster, KeyValuePair<string, object?> Node)> Clusters = new();
    private static readonly List<(HistoryBudget Budget, KeyValuePair<string, object?> Node)> HistoryBudgets = new();
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, KeyValuePair<string, object?>[]> RouteTags = new(StringComparer.Ordinal);

    static BrokerMetrics()
    {
        Meter.CreateObservableGauge("broker_cluster_members", ObserveMembers,
            description: "Cluster members as this node sees them, by status (up, joining, leaving, exiting, down, weaklyup) and observing node.");
        Meter.CreateObservableGauge("broker_cluster_unreachable", ObserveUnreachable,
            description: "Cluster members this node's failure detector considers unreachable, by observing node.");
        Meter.CreateObservableGauge("broker_history_bytes", ObserveHistoryBytes,
            description: "Frame bytes held in the history of every room on a node, by node (bounded by Broker:Rooms:HistoryNodeMaxBytes).");
    }

    /// <summary>Reports <paramref name="budget"/>'s total on <c>broker_history_bytes</c> until disposed.</summary>
    public static IDisposable ObserveHistory(HistoryBudget budget, string nodeName)
    {
        var entry = (budget, new KeyValuePair<string, object?>("node", nodeName));
        lock (HistoryBudgets) HistoryBudgets.Add(entry);
        return new Unregister(() => { lock (HistoryBudgets) HistoryBudgets.Remove(entry); });
    }

    /// <summary>Reports <paramref name="cluster"/>'s membership on the cluster gauges until disposed.</summary>
    public static IDisposable ObserveCluster(Cluster cluster, string nodeName)
    {
        var entry = (cluster, new KeyValuePair<string, object?>("node", nodeName));
        lock (Clusters) Clusters.Add(entry);
        return new Unregister(() => { lock (Clusters) Clusters.Remove(entry); });
    }

    // ---- hot-path helpers: static tags, no formatting ----

    private static readonly KeyValuePair<string, object?>[] RoomKind = [new("kind", "room")];
    private static readonly KeyValuePair<string, object?>[] RouteKind = [new("kind", "route")];
    private static readonly KeyValuePair<string, object?>[] DirectKind = [new("kind", "direct")];
    private static readonly KeyValuePair<string, object?>[] MessageKind = [new("kind", "message")];
    private static readonly KeyValuePair<string, object?>[] PresenceKind = [new("kind", "presence")];
    private static readonly KeyValuePair<string, object?>[] RejectedAction = [new("action", "rejected")];
    private static readonly KeyValuePair<string, object?>[] ClosedAction = [new("action", "closed")];

    private static readonly KeyValuePair<string, object?>[] RoomReason = [new("reason", "room")];
    private static readonly KeyValuePair<string, object?>[] NodeReason = [new("reason", "node")];
    private static readonly KeyValuePair<string, object?>[] PerUserLimit = [new("limit", "per_user")];
    private static readonly KeyValuePair<string, object?>[] PerIpLimit = [new("limit", "per_ip")];

    private static readonly KeyValuePair<string, object?>[] FilledOutcome = [new("outcome", "filled")];
    private static readonly KeyValuePair<string, object?>[] AnnouncedOutcome = [new("outcome", "announced")];

    /// <summary>A presence change was held for its room's window end.</summary>
    public static void PresenceCoalesced() => PresenceHeld.Add(1);

    /// <summary>The <c>route</c> tag of a route's series: one array per route, shared by its sockets.</summary>
    public static KeyValuePair<string, object?>[] RouteTag(string route) =>
        RouteTags.GetOrAdd(route, static r => [new("route", r)]);

    /// <summary>A publish came again with a key seen within the window and got the first one's ack.</summary>
    public static void PublishDeduplicated() => PublishesDeduplicated.Add(1);

    /// <summary>A durable room's journal failed.</summary>
    public static void RoomStoreFailed() => RoomStoreFailures.Add(1);

    /// <summary>A hub re-registers its members with a room's next incarnation.</summary>
    public static void RoomMoved() => RoomMoves.Add(1);

    /// <summary><paramref name="members"/> members were told their room's history was lost.</summary>
    public static void RoomResynced(int members)
    {
        if (members > 0) RoomResyncs.Add(members);
    }

    /// <summary>A gap in a room's offsets was closed, from history or by announcing it.</summary>
    public static void RoomGapFilled(bool fromHistory) => RoomGaps.Add(1, (fromHistory ? FilledOutcome : AnnouncedOutcome).AsSpan());

    /// <summary>A room dropped a history entry for its own byte cap, or for the node's budget when <paramref name="node"/>.</summary>
    public static void HistoryTrimmed(bool node) => HistoryTrims.Add(1, (node ? NodeReason : RoomReason).AsSpan());

    /// <summary>A room accepted a publish.</summary>
    public static void RoomPublished() => Publishes.Add(1, RoomKind.AsSpan());

    /// <summary>A route-wide broadcast was accepted.</summary>
    public static void RoutePublished() => Publishes.Add(1, RouteKind.AsSpan());

    /// <summary>A direct message was handed to <paramref name="connections"/> connections.</summary>
    public static void DirectSent(int connections)
    {
        Publishes.Add(1, DirectKind.AsSpan());
        if (connections > 0) Deliveries.Add(connections, DirectKind.AsSpan());
    }

    /// <summary>A room sent one broadcast to <paramref name="remoteHubs"/> hubs on other nodes.</summary>
    public static void RemoteHopsSent(int remoteHubs, bool presence)
    {
        if (remoteHubs > 0) RemoteHops.Add(remoteHubs, (presence ? PresenceKind : MessageKind).AsSpan());
    }

    /// <summary>
    /// A fan-out point's timestamp for a broadcast frame: a <see cref="Stopwatch"/> timestamp for
    /// room <c>message</c> frames (tagged room) or route broadcasts, 0 for anything else (presence,
    /// joined, left…), which then counts neither as a delivery nor in the latency histogram.
    /// Negative values mark route broadcasts.
    /// </summary>
    public static long FanOutStamp(byte[] frame, bool route = false)
    {
        if (route) return -Stopwatch.GetTimestamp();
        return frame.AsSpan().StartsWith("{\"type\":\"message\""u8) ? Stopwatch.GetTimestamp() : 0;
    }

    /// <summary>
    /// A frame stamped by <see cref="FanOutStamp"/> was queued on <paramref name="sockets"/> sockets
    /// of this node: counted per socket, timed once (from the stamp until the last one was queued).
    /// </summary>
    public static void Delivered(long stamp, int sockets)
    {
        if (stamp == 0 || sockets == 0) return;
        var route = stamp < 0;
        var started = route ? -stamp : stamp;
        Deliveries.Add(sockets, (route ? RouteKind : RoomKind).AsSpan());
        DeliveryLatency.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, (route ? RouteKind : RoomKind).AsSpan());
    }

    /// <summary>A frame stamped by <see cref="FanOutStamp"/> was queued on a socket.</summary>
    public static void Delivered(long stamp) => Delivered(stamp, sockets: 1);

    /// <summary>An inbound frame hit the rate limit; <paramref name="closed"/> when it ended the connection.</summary>
    public static void RateLimitHit(bool closed) => RateLimited.Add(1, (closed ? ClosedAction : RejectedAction).AsSpan());

    /// <summary>A connection was refused by a cap: the user's (<paramref name="perUser"/>) or the client IP's.</summary>
    public static void ConnectionLimitRefused(bool perUser) => ConnectionLimitRefusals.Add(1, (perUser ? PerUserLimit : PerIpLimit).AsSpan());

    /// <summary>An authentication was refused or ended; <paramref name="reason"/> is one of <see cref="AuthFailureReasons"/>.</summary>
    public static void AuthFailed(string reason) => AuthFailures.Add(1, AuthFailureReasons.Tag(reason).AsSpan());

    // ---- cluster gauges ----

    private static IEnumerable<Measurement<long>> ObserveMembers()
    {
        (Cluster, KeyValuePair<string, object?>)[] clusters;
        lock (Clusters) clusters = Clusters.ToArray();
        foreach (var (cluster, node) in clusters)
        {
            var counts = new Dictionary<MemberStatus, long>();
            foreach (var member in cluster.State.Members)
                counts[member.Status] = counts.GetValueOrDefault(member.Status) + 1;
            foreach (var (status, count) in counts)
                yield return new Measurement<long>(count, node, new KeyValuePair<string, object?>("status", status.ToString().ToLowerInvariant()));
        }
    }

    private static IEnumerable<Measurement<long>> ObserveUnreachable()
    {
        (Cluster, KeyValuePair<string, object?>)[] clusters;
        lock (Clusters) clusters = Clusters.ToArray();
        foreach (var (cluster, node) in clusters)
            yield return new Measurement<long>(cluster.State.Unreachable.Count, node);
    }

    private static IEnumerable<Measurement<long>> ObserveHistoryBytes()
    {
        (HistoryBudget, KeyValuePair<string, object?>)[] budgets;
        lock (HistoryBudgets) budgets = HistoryBudgets.ToArray();
        foreach (var (budget, node) in budgets)
            yield return new Measurement<long>(budget.Bytes, node);
    }

    private sealed class Unregister(Action action) : IDisposable
    {
        private Action? _action = action;
        public void Dispose() => Interlocked.Exchange(ref _action, null)?.Invoke();
    }
}

/// <summary>
/// The low-cardinality <c>reason</c> values of <c>broker_auth_failures_total</c>. A refused token's
/// reason comes from its <see cref="Auth.TokenFailure"/> (<see cref="For"/>).
/// </summary>
public static class AuthFailureReasons
{
    public const string NoAuthFrame = "no_auth_frame";
    public const string Timeout = "timeout";
    public const string InvalidToken = "invalid_token";
    public const string ExpiredToken = "expired_token";
    public const string MalformedToken = "malformed_token";
    public const string RefreshRejected = "refresh_rejected";
    public const string TokenExpired = "token_expired";
    public const string Ticket = "ticket";
    public const string TicketRequired = "ticket_required";
    /// <summary>A valid token whose <c>sub</c> is one the broker reserves (<see cref="Auth.ReservedSubjects"/>).</summary>
    public const string ReservedSubject = "reserved_subject";

    private static readonly Dictionary<string, KeyValuePair<string, object?>[]> Tags =
        new[] { NoAuthFrame, Timeout, InvalidToken, ExpiredToken, MalformedToken, RefreshRejected, TokenExpired, Ticket, TicketRequired, ReservedSubject }
            .ToDictionary(r => r, r => new[] { new KeyValuePair<string, object?>("reason", r) }, StringComparer.Ordinal);

    /// <summary>The reason of a refused token: each kind has one, so a new validator message never creates a new series.</summary>
    public static string For(Auth.TokenFailure failure) => failure switch
    {
        Auth.TokenFailure.ReservedSubject => ReservedSubject,
        Auth.TokenFailure.Expired => ExpiredToken,
        Auth.TokenFailure.Malformed => MalformedToken,
        _ => InvalidToken,
    };

    internal static KeyValuePair<string, object?>[] Tag(string reason) =>
        Tags.TryGetValue(reason, out var tag) ? tag : Tags[InvalidToken];
}
