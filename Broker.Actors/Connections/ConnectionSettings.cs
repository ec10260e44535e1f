namespace Broker.Actors.Connections;

/// <summary>What every connection actor on a node needs to know; built once by the host from its options.</summary>
/// <param name="MaxConnectionsPerUser">The cap the user directory applies when this connection registers; 0 = unlimited.</param>
public sealed record ConnectionSettings(
    string NodeName,
    TimeSpan HeartbeatInterval,
    TimeSpan HeartbeatTimeout,
    TimeSpan AuthTimeout,
    int MaxRoomsPerConnection,
    int MaxConnectionsPerUser = 0)
{
    /// <summary>How long the application's room rules may take before the join/publish gets <c>unavailable</c>. Default 10 s.</summary>
    public TimeSpan RoomRuleTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a refresh's token check may take before it gets <c>unavailable</c>. Default 10 s.</summary>
    public TimeSpan RefreshTimeout { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>A route's policy as the connection enforces it.</summary>
/// <param name="Name">The route name, as in <c>/ws/{name}</c>.</param>
/// <param name="Anonymous">No authentication required.</param>
/// <param name="AllowPublish">False for receive-only routes: <c>publish</c> and <c>send</c> are forbidden.</param>
/// <param name="AllowBroadcast">Clients may <c>publish</c> without a room to everyone on the route; off by default (docs/security.md).</param>
public sealed record RoutePolicy(string Name, bool Anonymous, bool AllowPublish, bool AllowBroadcast = false);

/// <summary>Everything known about a connection when its socket is accepted.</summary>
/// <param name="ConnectionId">Unique across the cluster.</param>
/// <param name="Route">The route's policy.</param>
/// <param name="RemoteAddress">The client's IP, for the access log.</param>
/// <param name="User">Set when the handshake already authenticated the client (ticket, or an SSE stream's bearer token); null means first-message auth.</param>
/// <param name="Session">An SSE session's id, announced in <c>welcome</c> (PROTOCOL §9.4); null on WebSocket. A secret: never logged.</param>
public sealed record ConnectionInfo(string ConnectionId, RoutePolicy Route, string RemoteAddress, Auth.AuthenticatedUser? User, string? Session = null)
{
    /// <summary>
    /// The record's text without <see cref="Session"/>: on an anonymous route the session id is the
    /// only credential, and a record's text ends up in dead-letter and failure logs.
    /// </summary>
    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append("ConnectionId = ").Append(ConnectionId)
            .Append(", Route = ").Append(Route)
            .Append(", RemoteAddress = ").Append(RemoteAddress)
            .Append(", User = ").Append(User)
            .Append(", Session = ").Append(Session is null ? "null" : "(redacted)");
        return true;
    }
}

/// <summary>
/// The cluster tiers a connection talks to: its node's <see cref="Rooms.RoomHub"/> (all room
/// traffic) and the user directory shard region (direct messages, online status). Null services
/// leave rooms and <c>send</c> off, which tests of the connection alone rely on.
/// </summary>
/// <param name="Authorizer">The application's room rules; null or <see cref="Rooms.AllowAllRooms"/> allows everything without asking.</param>
/// <param name="Handlers">The application's own message types; null when it has none.</param>
/// <param name="Joins">The node's per-user join rate; null: joins are limited only by the connection's inbound rate.</param>
public sealed record ConnectionServices(Akka.Actor.IActorRef RoomHub, Akka.Actor.IActorRef Users, Rooms.IRoomAuthorizer? Authorizer = null,
    Handlers.MessageHandlers? Handlers = null, UserJoinLimiter? Joins = null);
