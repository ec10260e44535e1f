namespace Broker.Actors.Configuration;

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

    /// <summary>Cluster membership.</summary>
    public ClusterOptions Cluster { get; set; } = new();

    /// <summary>Raw Akka settings for operators.</summary>
    public AkkaOptions Akka { get; set; } = new();
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
    /// <summary>Rooms one connection may be in at once. Default 100.</summary>
    public int MaxRoomsPerConnection { get; set; } = 100;
    /// <summary>
    /// How long an application's message handler may take before its request gets <c>error internal</c>,
    /// and how long its room rules (<c>IRoomAuthorizer</c>) may take before the join/publish gets
    /// <c>error unavailable</c>. Default 00:00:10.
    /// </summary>
    public TimeSpan HandlerTimeout { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>Room settings (PROTOCOL §4).</summary>
public sealed class RoomsOptions
{
    /// <summary>Messages a room keeps for recovery. Default 100.</summary>
    public int HistorySize { get; set; } = 100;
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
}

/// <summary>One WebSocket route's policy.</summary>
public sealed class RouteOptions
{
    /// <summary>No authentication; the user is <c>anon-&lt;connection id&gt;</c>. Default false.</summary>
    public bool Anonymous { get; set; }
    /// <summary>Clients may <c>publish</c>/<c>send</c>; false makes the route receive-only. Default true.</summary>
    public bool AllowPublish { get; set; } = true;
    /// <summary>Origins allowed to open a socket; empty means the broker's own host only.</summary>
    public List<string> AllowedOrigins { get; set; } = new();
    /// <summary>Only ticket handshakes (<c>?ticket=</c>) may connect; first-message auth is refused with 401. Default false.</summary>
    public bool RequireTicket { get; set; }
    /// <summary>Negotiate permessage-deflate when the client offers it. Default false.</summary>
    public bool Compression { get; set; }
}

/// <summary>Cluster membership (PROTOCOL §8).</summary>
public sealed class ClusterOptions
{
    /// <summary>Address other nodes reach this node at. Default 127.0.0.1.</summary>
    public string Hostname { get; set; } = "127.0.0.1";
    /// <summary>Akka.Remote port; 0 picks any free port. Default 0.</summary>
    public int Port { get; set; }
    /// <summary>Comma-separated <c>akka.tcp://broker@host:port</c>; empty means this node forms a cluster of its own.</summary>
    public string? SeedNodes { get; set; }
    /// <summary>
    /// Comma-separated cluster roles. Rooms, users and tickets are hosted only on nodes with the
    /// <c>broker</c> role; a node without it serves sockets and uses the others'. Default <c>broker</c>.
    /// </summary>
    public string Roles { get; set; } = "broker";
}
