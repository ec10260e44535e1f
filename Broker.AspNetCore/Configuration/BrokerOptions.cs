using Broker.Actors.Handlers;

namespace Broker.AspNetCore.Configuration;

/// <summary>
/// Every operator-facing setting of the broker, bound from the <c>Broker</c> configuration section
/// (PROTOCOL §8). Defaults here are the documented defaults.
/// </summary>
public sealed class BrokerOptions
{
    public const string Section = "Broker";

    /// <summary>Token validation settings.</summary>
    public JwtOptions Jwt { get; set; } = new();

    /// <summary>Shared secret for back-end calls via <c>X-Api-Key</c>; unset turns that path off.</summary>
    public string? ApiKey { get; set; }

    /// <summary>Authentication deadlines.</summary>
    public AuthOptions Auth { get; set; } = new();

    /// <summary>Server heartbeat.</summary>
    public HeartbeatOptions Heartbeat { get; set; } = new();

    /// <summary>Per-connection limits.</summary>
    public LimitsOptions Limits { get; set; } = new();

    /// <summary>Room settings.</summary>
    public RoomsOptions Rooms { get; set; } = new();

    /// <summary>WebSocket routes by name (<c>/ws/{name}</c>). <c>chat</c> and <c>notifications</c> exist unless configured away.</summary>
    public Dictionary<string, RouteOptions> Routes { get; set; } = new(StringComparer.OrdinalIgnoreCase)
    {
        // Present unless configuration changes them; configuration binds onto these entries.
        ["chat"] = new RouteOptions { AllowPublish = true },
        ["notifications"] = new RouteOptions { AllowPublish = false },
    };

    /// <summary>The Server-Sent Events fallback transport (<c>/sse/{route}</c>, PROTOCOL §9.4).</summary>
    public SseOptions Sse { get; set; } = new();

    /// <summary>Cluster membership.</summary>
    public ClusterOptions Cluster { get; set; } = new();

    /// <summary>Where durable rooms keep their journal (PROTOCOL §9.2).</summary>
    public PersistenceOptions Persistence { get; set; } = new();

    /// <summary>Graceful shutdown.</summary>
    public ShutdownOptions Shutdown { get; set; } = new();

    /// <summary>Raw Akka settings for operators.</summary>
    public AkkaOptions Akka { get; set; } = new();

    /// <summary>Where the operator's endpoints are served (PROTOCOL §9.5).</summary>
    public ManagementOptions Management { get; set; } = new();
}

/// <summary>The management surface: <c>/metrics</c>, <c>/health/*</c> and <c>/admin</c>.</summary>
public sealed class ManagementOptions
{
    /// <summary>
    /// Unset (default): served on the client-facing URLs. Set (e.g. <c>http://0.0.0.0:9090</c>, several
    /// separated by <c>;</c>): served only there, and the client-facing URLs answer 404 for them, so
    /// the load balancer exposes clients' endpoints only and scrapes and probes go to the internal port.
    /// </summary>
    public string? Urls { get; set; }

    /// <summary>
    /// How long the console waits for each node's report (<c>/admin/cluster</c>); a node that takes
    /// longer is shown as not answering, and the page still answers. Default 2 s.
    /// </summary>
    public TimeSpan ReportTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>The management URLs, split and trimmed.</summary>
    public string[] UrlList() => (Urls ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}

/// <summary>An escape hatch to Akka's own settings, for tuning without a rebuild.</summary>
public sealed class AkkaOptions
{
    /// <summary>
    /// HOCON applied over the built-in settings (hocon/broker.hocon), e.g.
    /// <c>akka.cluster.split-brain-resolver.stable-after = 20s</c>. Unset by default.
    /// </summary>
    public string? Hocon { get; set; }
}

/// <summary>JWT validation (PROTOCOL §2).</summary>
public sealed class JwtOptions
{
    /// <summary>Expected <c>iss</c>. Default <c>broker</c>.</summary>
    public string Issuer { get; set; } = "broker";
    /// <summary>Expected <c>aud</c>. Default <c>broker</c>.</summary>
    public string Audience { get; set; } = "broker";
    /// <summary>HS256 secret, UTF-8, at least 32 bytes. Only Development has a built-in key.</summary>
    public string? SigningKey { get; set; }
    /// <summary>PEM-encoded RSA public keys for RS256, by key id (<c>kid</c>). When set, RS256 is accepted.</summary>
    public Dictionary<string, string> RsaPublicKeys { get; set; } = new();
    /// <summary>Allowed clock skew on <c>exp</c>/<c>nbf</c>; at most 30 s. Default 00:00:30.</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);
    /// <summary>Longest token accepted, in characters; longer ones are rejected unparsed. Default 8192.</summary>
    public int MaxTokenLength { get; set; } = 8192;
}

/// <summary>Authentication deadlines.</summary>
public sealed class AuthOptions
{
    /// <summary>How long a connection may stay unauthenticated. Default 00:00:10.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);
    /// <summary>Lifetime of a handshake ticket; at most 30 s. Default 00:00:30.</summary>
    public TimeSpan TicketLifetime { get; set; } = TimeSpan.FromSeconds(30);
    /// <summary>
    /// How long a token refresh's validation may take before the refresh gets <c>error unavailable</c>
    /// (the connection keeps its current token). Default 00:00:10.
    /// </summary>
    public TimeSpan RefreshTimeout { get; set; } = TimeSpan.FromSeconds(10);
    /// <summary>
    /// Secret (UTF-8, at least 32 bytes) the MAC of handshake tickets is keyed from; the same on every
    /// node. Unset (default): derived from <see cref="JwtOptions.SigningKey"/>; with no signing key
    /// either, a random key per process, allowed only on a node without <c>Cluster:SeedNodes</c>.
    /// </summary>
    public string? TicketKey { get; set; }
    /// <summary>
    /// The host app's JwtBearer authentication scheme (e.g. <c>Bearer</c>) to validate tokens with,
    /// instead of <see cref="BrokerOptions.Jwt"/>'s keys. Unset (default): the broker's own settings.
    /// </summary>
    public string? JwtBearerScheme { get; set; }
    /// <summary>
    /// How long a redeemed ticket's ledger entry stays as a tombstone, so a replay right after is
    /// refused where the ticket was known. Default 00:00:30.
    /// </summary>
    public TimeSpan TicketTombstone { get; set; } = Broker.Actors.Tickets.TicketActor.DefaultTombstone;
}

/// <summary>Server heartbeat (PROTOCOL §5).</summary>
public sealed class HeartbeatOptions
{
    /// <summary>How often the server pings every connection. Default 00:00:25; at least 00:00:00.010 (10 ms).</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(25);
    /// <summary>Extra time a client allows beyond <see cref="Interval"/> before it deems the server dead. Default 00:00:10.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>Per-connection limits (PROTOCOL §6).</summary>
public sealed class LimitsOptions
{
    /// <summary>Largest inbound message, after reassembling fragments. Default 65536.</summary>
    public int MaxMessageBytes { get; set; } = 64 * 1024;
    /// <summary>Sustained inbound frames per second. Default 100.</summary>
    public int RatePerSecond { get; set; } = 100;
    /// <summary>Inbound burst allowance. Default 200.</summary>
    public int RateBurst { get; set; } = 200;
    /// <summary>Frames queued for a client before it is cut off as a slow consumer. Default 1000.</summary>
    public int OutboundQueue { get; set; } = 1000;
    /// <summary>
    /// Bytes queued for a client before it is cut off as a slow consumer (4508), whichever of this
    /// and <see cref="OutboundQueue"/> comes first; 0 = frames only. Default 8388608 (8 MiB: a
    /// history replay of <c>Broker:Rooms:HistoryMaxBytes</c> fits many times over). Frames are shared
    /// between members, but a stalled reader keeps alive what the others are done with.
    /// </summary>
    public long OutboundQueueBytes { get; set; } = 8 * 1024 * 1024;
    /// <summary>
    /// Most queued frames a socket's write loop sends in one write and flush (each still its own
    /// WebSocket message); 1 turns batching off. Default 256.
    /// </summary>
    public int WriteBatchFrames { get; set; } = 256;
    /// <summary>Bytes a batch holds before it is written early (a larger frame is written on its own). Default 65536.</summary>
    public int WriteBatchBytes { get; set; } = 64 * 1024;
    /// <summary>Rooms one connection may be in at once. Default 100.</summary>
    public int MaxRoomsPerConnection { get; set; } = 100;
    /// <summary>
    /// Connections one user (JWT <c>sub</c>) may have open at once, counted across the cluster by the
    /// user directory; the next one gets <c>error forbidden</c> and close 4403. 0 = unlimited. Default 100.
    /// </summary>
    public int MaxConnectionsPerUser { get; set; } = 100;
    /// <summary>
    /// WebSockets one client IP may have open at once on this node; the next handshake gets HTTP 429
    /// before the upgrade. 0 = unlimited. Default 1000.
    /// </summary>
    public int MaxConnectionsPerIp { get; set; } = 1000;
    /// <summary>
    /// Access-log events (connects, auth, joins, leaves) that may wait for the log sink on a node;
    /// past it new ones are dropped and counted in <c>broker_access_log_dropped_total</c> (a close is
    /// always written). Default 10000.
    /// </summary>
    public int AccessLogQueue { get; set; } = 10_000;
    /// <summary>
    /// How long an application's message handler may take before its request gets <c>error internal</c>,
    /// and how long its room rules (<c>IRoomAuthorizer</c>) may take before the join/publish gets
    /// <c>error unavailable</c>. Default 00:00:10.
    /// </summary>
    public TimeSpan HandlerTimeout { get; set; } = MessageHandlers.DefaultTimeout;
    /// <summary>
    /// Sustained <c>join</c>s per second one user may make on one node, all its connections
    /// together; past it a join gets <c>error rate_limited</c>. Default 20. Churn (joins and
    /// leaves) is how one user floods a room's other members with presence (docs/security.md).
    /// </summary>
    public double JoinsPerSecondPerUser { get; set; } = 20;
    /// <summary>Joins one user may make at once before <see cref="JoinsPerSecondPerUser"/> applies. Default 200 (two connections joining the 100 rooms each may be in).</summary>
    public int JoinBurstPerUser { get; set; } = 200;
    /// <summary>
    /// How long the HTTP side waits for the actors to answer: an <c>/api/*</c> call or
    /// <c>IBrokerPublisher</c> call (a room or user entry), a ticket's ledger entry, a new socket's
    /// connection actor, <c>/admin/stats</c>. Past it the API and tickets answer 503 <c>unavailable</c>, the publisher
    /// throws <c>AskTimeoutException</c> and the socket is closed 1011. Default 00:00:05.
    /// </summary>
    public TimeSpan AskTimeout { get; set; } = TimeSpan.FromSeconds(5);
    /// <summary>How long a close handshake may take before the socket is aborted. Default 00:00:05.</summary>
    public TimeSpan CloseGrace { get; set; } = TimeSpan.FromSeconds(5);
}

/// <summary>Room settings (PROTOCOL §4).</summary>
public sealed class RoomsOptions
{
    /// <summary>Messages a room keeps for recovery. Default 100.</summary>
    public int HistorySize { get; set; } = 100;
    /// <summary>
    /// Frame bytes one room's history may hold; past it the oldest messages leave first (the newest
    /// is always kept). Default 1048576 (1 MiB); must be positive.
    /// </summary>
    public int HistoryMaxBytes { get; set; } = 1024 * 1024;
    /// <summary>
    /// Frame bytes the history of every room on a node may hold together; past it the node's oldest
    /// messages leave first. Default 0: 1/8 of the memory available to the process
    /// (<c>GCMemoryInfo.TotalAvailableMemoryBytes</c>, the container's limit when there is one).
    /// </summary>
    public long HistoryNodeMaxBytes { get; set; }
    /// <summary>How long a room with no members stays in memory before it passivates. Default 00:02:00.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(2);
    /// <summary>
    /// After a room's (or a user entry's) node is lost, how often a node repeats re-registering its
    /// members (connections) until the next incarnation confirms. Default 00:00:01.
    /// </summary>
    public TimeSpan RejoinInterval { get; set; } = TimeSpan.FromSeconds(1);
    /// <summary>
    /// How long a node waits for the first answer of a room it has no live link to (a join routed
    /// to a node that just died is otherwise lost unseen) before it treats the room as moving and
    /// re-sends what is unanswered. Default 00:00:05.
    /// </summary>
    public TimeSpan AnswerTimeout { get; set; } = TimeSpan.FromSeconds(5);
    /// <summary>
    /// The window a room counts its presence changes in. Default 00:00:01. Up to
    /// <see cref="PresenceBurst"/> changes per window are announced at once; the rest are held to
    /// the window's end and coalesced (a user's join and leave inside it cancel out), or replaced by
    /// one <c>occupancy</c> count when still more than <see cref="PresenceBurst"/> (docs/security.md).
    /// </summary>
    public TimeSpan PresenceWindow { get; set; } = TimeSpan.FromSeconds(1);
    /// <summary>
    /// Presence changes a room announces at once per <see cref="PresenceWindow"/>. Default 50; at
    /// least 1, and at most a quarter of <see cref="LimitsOptions.OutboundQueue"/> (a larger value is
    /// lowered to that: a burst lands in every member's queue at once).
    /// </summary>
    public int PresenceBurst { get; set; } = 50;
    /// <summary>
    /// What rooms tell their members about who is in them (PROTOCOL §9.3): <c>full</c> (default:
    /// <c>joined</c> lists the members, <c>presence</c> frames announce joins and leaves),
    /// <c>counts</c> (<c>joined</c> has the count, <c>occupancy</c> counts at most once a second) or
    /// <c>off</c> (the count in <c>joined</c> only).
    /// </summary>
    public string Presence { get; set; } = "full";
    /// <summary>
    /// Users a <c>full</c> room lists at most: with more it behaves as <c>counts</c> until it has
    /// fewer than this again (docs/protocol-notes.md). Default 1000; at least 1.
    /// </summary>
    public int MaxPresenceMembers { get; set; } = Broker.Actors.Rooms.RoomSettings.DefaultMaxPresenceMembers;
    /// <summary>
    /// Members of one room on one node from which a broadcast is written by one thread per core
    /// instead of the node's room hub alone (per-room order is kept: each connection is always
    /// written by the same thread, and the hub writes itself only when those threads have nothing
    /// queued). Default 2000; 0: never split.
    /// </summary>
    public int ParallelFanOutThreshold { get; set; } = Broker.Actors.Rooms.RoomHub.DefaultParallelFanOutThreshold;
    /// <summary>
    /// Rooms write each publish to the journal before the ack and keep their epoch and history
    /// across passivation, crashes and restarts (PROTOCOL §9.2). Unset (default): true when
    /// <c>Broker:Persistence:Provider</c> names a store, else false; true without a store is refused at start-up.
    /// </summary>
    public bool? Durable { get; set; }
    /// <summary>A message leaves history after this long, or its size bound, whichever comes first. Default 1.00:00:00.</summary>
    public TimeSpan HistoryTtl { get; set; } = Broker.Actors.Rooms.RoomSettings.DefaultHistoryTtl;
    /// <summary>How long a publish's <c>idempotencyKey</c> is remembered by its room (PROTOCOL §9.2). Default 00:05:00.</summary>
    public TimeSpan IdempotencyWindow { get; set; } = Broker.Actors.Rooms.RoomSettings.DefaultIdempotencyWindow;
    /// <summary>
    /// Keys one room remembers at most within <see cref="IdempotencyWindow"/>; past it the oldest are
    /// forgotten early (bounds what a client sending a fresh key with every publish costs). Default 10000.
    /// </summary>
    public int IdempotencyKeysMax { get; set; } = 10_000;
    /// <summary>
    /// Settings for rooms named <c>&lt;ns&gt;:&lt;anything&gt;</c>, by <c>ns</c>
    /// (<c>Broker:Rooms:Namespaces:&lt;ns&gt;:Durable</c>, <c>:HistorySize</c>, <c>:HistoryTtl</c>,
    /// <c>:Presence</c>); unset keys fall back to the settings above.
    /// </summary>
    public Dictionary<string, RoomNamespaceOptions> Namespaces { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>One room namespace (<c>Broker:Rooms:Namespaces:&lt;ns&gt;</c>); every key unset falls back to <c>Broker:Rooms:*</c>.</summary>
public sealed class RoomNamespaceOptions
{
    /// <summary>Whether the namespace's rooms are durable.</summary>
    public bool? Durable { get; set; }
    /// <summary>Messages each of its rooms keeps for recovery.</summary>
    public int? HistorySize { get; set; }
    /// <summary>How long a message stays in its rooms' history.</summary>
    public TimeSpan? HistoryTtl { get; set; }
    /// <summary>Presence mode of its rooms: <c>full</c>, <c>counts</c> or <c>off</c> (PROTOCOL §9.3).</summary>
    public string? Presence { get; set; }
}

/// <summary>The store of durable rooms (PROTOCOL §9.2).</summary>
public sealed class PersistenceOptions
{
    /// <summary>Provider names <see cref="Provider"/> accepts.</summary>
    public const string None = "none", Sqlite = "sqlite", PostgreSql = "postgresql";

    /// <summary>The SQLite file of the standalone host when no connection string is set, under the content root.</summary>
    public const string DefaultSqliteConnectionString = "Data Source=data/broker.db";

    /// <summary>
    /// <c>sqlite</c>, <c>postgresql</c> or <c>none</c>. Unset (default): <c>sqlite</c> for the
    /// standalone host running as a single node (no <c>Broker:Cluster:SeedNodes</c>), else
    /// <c>none</c>. A cluster needs a store every node reaches: <c>sqlite</c> with seed nodes is refused at start-up.
    /// </summary>
    public string? Provider { get; set; }
    /// <summary>
    /// The store's connection string. For <c>sqlite</c>, default <c>Data Source=data/broker.db</c>
    /// (a relative path is under the content root); for <c>postgresql</c>, required.
    /// </summary>
    public string? ConnectionString { get; set; }
    /// <summary>
    /// How long one journal call (a write, a recovery) may take before it counts as failed; after
    /// 5 failures in a row the journal's circuit breaker opens and calls fail at once for
    /// <see cref="ResetTimeout"/>, so a hung database gives <c>unavailable</c>, not a hang. Default 00:00:05.
    /// </summary>
    public TimeSpan CallTimeout { get; set; } = TimeSpan.FromSeconds(5);
    /// <summary>How long the journal's circuit breaker stays open before it lets one call try again. Default 00:00:05.</summary>
    public TimeSpan ResetTimeout { get; set; } = TimeSpan.FromSeconds(5);
    /// <summary>
    /// How long a starting node waits for its store to answer before it refuses to start (naming
    /// <c>Broker:Persistence:ConnectionString</c>): a database starting beside the broker gets this long. Default 00:00:15.
    /// </summary>
    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromSeconds(15);
    /// <summary>A durable room saves a snapshot of its history window, and deletes older journal entries, every this many publishes. Default 1000 (recovery reads at most that many events; each snapshot copies the window and the keys).</summary>
    public int SnapshotEvery { get; set; } = 1000;

    /// <summary>
    /// Set by the standalone host (<c>Broker.Host</c>), not by configuration: a single node with no
    /// store configured then uses the embedded SQLite default. An app embedding the broker keeps <c>none</c>.
    /// </summary>
    internal bool StandaloneDefault { get; set; }

    /// <summary>The provider in effect: <see cref="Provider"/>, or the default for this host.</summary>
    public string EffectiveProvider(ClusterOptions cluster) =>
        Provider is { Length: > 0 } configured ? configured.ToLowerInvariant()
        : StandaloneDefault && !cluster.Clustered ? Sqlite : None;
}

/// <summary>One WebSocket route's policy.</summary>
public sealed class RouteOptions
{
    /// <summary>No authentication; the user is <c>anon-&lt;connection id&gt;</c>. Default false.</summary>
    public bool Anonymous { get; set; }
    /// <summary>Clients may <c>publish</c>/<c>send</c>; false makes the route receive-only. Default true.</summary>
    public bool AllowPublish { get; set; } = true;
    /// <summary>
    /// Clients may <c>publish</c> without a <c>room</c>, to every connection on the route (an
    /// extension, docs/protocol-notes.md). Default false: any user could spam everyone connected;
    /// without it such a publish gets <c>error forbidden</c>. The server's own
    /// <c>IBrokerPublisher.BroadcastToRouteAsync</c> is not affected.
    /// </summary>
    public bool AllowBroadcast { get; set; }
    /// <summary>Origins allowed to open a socket; empty means the broker's own host only.</summary>
    public List<string> AllowedOrigins { get; set; } = new();
    /// <summary>Only ticket handshakes (<c>?ticket=</c>) may connect; first-message auth is refused with 401. Default false.</summary>
    public bool RequireTicket { get; set; }
    /// <summary>Negotiate permessage-deflate when the client offers it. Default false.</summary>
    public bool Compression { get; set; }
}

/// <summary>Limits of the SSE fallback's <c>POST /sse/{route}/{session}</c> (docs/sse.md).</summary>
public sealed class SseOptions
{
    /// <summary>
    /// Largest POST body, all its envelopes together; a larger one gets 400 <c>too_large</c>. Each
    /// envelope is also held to <see cref="LimitsOptions.MaxMessageBytes"/>, and a body may always be
    /// that large. Default 1048576.
    /// </summary>
    public int MaxPostBytes { get; set; } = 1024 * 1024;
    /// <summary>Most envelopes in one POST's JSON array; more get 400 <c>too_large</c>. Default 100.</summary>
    public int MaxPostEnvelopes { get; set; } = 100;
}

/// <summary>Cluster membership (PROTOCOL §8).</summary>
public sealed class ClusterOptions
{
    /// <summary>Address other nodes reach this node at. Default 127.0.0.1.</summary>
    public string Hostname { get; set; } = "127.0.0.1";
    /// <summary>Akka.Remote port; 0 picks any free port. Default 0.</summary>
    public int Port { get; set; }
    /// <summary>
    /// How the node finds its cluster (PROTOCOL §9.6): <c>seeds</c> (default: <see cref="SeedNodes"/>),
    /// <c>config</c> (Akka.Management Cluster Bootstrap over <see cref="BootstrapOptions.Endpoints"/>)
    /// or <c>kubernetes</c> (Cluster Bootstrap over the pods the API lists).
    /// </summary>
    public string Discovery { get; set; } = Seeds;

    /// <summary>Comma-separated <c>akka.tcp://broker@host:port</c>; empty means this node forms a cluster of its own (with <c>seeds</c> discovery).</summary>
    public string? SeedNodes { get; set; }

    /// <summary>Cluster Bootstrap's settings, for <c>config</c> and <c>kubernetes</c> discovery.</summary>
    public BootstrapOptions Bootstrap { get; set; } = new();
    /// <summary>
    /// Comma-separated cluster roles. Rooms, users and tickets are hosted only on nodes with the
    /// <c>broker</c> role; a node without it serves sockets and uses the others'. Default <c>broker</c>.
    /// </summary>
    public string Roles { get; set; } = "broker";

    public const string Seeds = "seeds";
    public const string Config = "config";
    public const string Kubernetes = "kubernetes";

    /// <summary>The discovery method in effect, lower case.</summary>
    public string EffectiveDiscovery => (Discovery ?? Seeds).Trim().ToLowerInvariant();

    /// <summary>
    /// Whether this node is meant to be part of a cluster of several (seeds listed, or a discovery
    /// method): then an embedded store such as SQLite cannot serve it.
    /// </summary>
    public bool Clustered => EffectiveDiscovery != Seeds || !string.IsNullOrWhiteSpace(SeedNodes);
}

/// <summary>
/// Akka.Management Cluster Bootstrap (PROTOCOL §9.6): each node serves Akka.Management's HTTP
/// endpoint on <see cref="Port"/>; nodes probe each other's there and either join the cluster one
/// of them is in or, when none is and all the contact points agree, the one with the lowest
/// address forms it. So start order does not matter and a restarted node finds the running
/// cluster instead of forming one of its own.
/// </summary>
public sealed class BootstrapOptions
{
    /// <summary>Akka.Management's HTTP port (the contact point). Default 8558.</summary>
    public int Port { get; set; } = 8558;

    /// <summary>For <c>config</c> discovery: comma-separated <c>host:port</c> of every node's bootstrap port (this node's included).</summary>
    public string? Endpoints { get; set; }

    /// <summary>Contact points that must be found before a new cluster may be formed. Default 2.</summary>
    public int RequiredContactPoints { get; set; } = 2;

    /// <summary>For <c>kubernetes</c> discovery: the pods' label selector, e.g. <c>app=broker</c>.</summary>
    public string? LabelSelector { get; set; }

    /// <summary>For <c>kubernetes</c> discovery: the pods' namespace; default the pod's own (its service account's).</summary>
    public string? Namespace { get; set; }

    /// <summary>The endpoints as <c>host:port</c> strings, trimmed.</summary>
    public string[] EndpointList() =>
        (Endpoints ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}

/// <summary>Graceful shutdown of a node.</summary>
public sealed class ShutdownOptions
{
    /// <summary>
    /// How long shutdown waits for every socket to be closed with 1001 and its close handshake to
    /// finish before the rest are aborted. Default 00:00:10.
    /// </summary>
    public TimeSpan CloseTimeout { get; set; } = TimeSpan.FromSeconds(10);
}
