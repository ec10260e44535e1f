using System.Text.Json;
using Akka.Actor;
using Broker.Contracts.Protocol;

namespace Broker.Actors.Connections;

/// <summary>
/// Node-local messages between the <see cref="ConnectionSupervisor"/>, its connections, and the host
/// (what crosses nodes is in <see cref="Broker.Contracts.Cluster.ConnectionCommands"/>).
/// </summary>
public static class ConnectionMessages
{
    /// <summary>
    /// Host → supervisor: a socket was accepted; create its actor. Replies with the actor's
    /// <see cref="IActorRef"/>. <paramref name="Heartbeat"/> is the one the transport reports pongs to
    /// (null: the supervisor makes one).
    /// </summary>
    public sealed record Accept(ConnectionInfo Info, IConnectionTransport Transport, ConnectionHeartbeat? Heartbeat = null);

    /// <summary>
    /// A heartbeat tick: the supervisor's timer. Sent to a connection actor, it applies the heartbeat
    /// rule to that connection alone (ping, or terminate if silent since the last one); on a node the
    /// supervisor applies it to every connection itself.
    /// </summary>
    public sealed class HeartbeatTick { public static readonly HeartbeatTick Instance = new(); private HeartbeatTick() { } }

    /// <summary>Supervisor → connection: its heartbeat tick found the connection silent since the last ping (close it).</summary>
    public sealed class HeartbeatSilent { public static readonly HeartbeatSilent Instance = new(); private HeartbeatSilent() { } }

    /// <summary>Supervisor → connection: the authentication deadline passed.</summary>
    public sealed class AuthDeadlineReached { public static readonly AuthDeadlineReached Instance = new(); private AuthDeadlineReached() { } }

    /// <summary>
    /// Transport → connection: a <c>ping</c> was written to the client's stream and flushed. Sent
    /// only by a transport whose client has no way to answer (an SSE stream on a receive-only route,
    /// read by a plain <c>EventSource</c>); there the stream taking the ping is the sign of life
    /// (<see cref="Broker.Actors.Connections.ConnectionActor"/>'s heartbeat, PROTOCOL §9.4).
    /// </summary>
    public sealed class StreamAlive { public static readonly StreamAlive Instance = new(); private StreamAlive() { } }

    /// <summary>Connection → supervisor: the connection authenticated as <paramref name="UserId"/>.</summary>
    public sealed record Authenticated(string UserId);

    /// <summary>Hub → connection: the room refused this connection's join (it was told with an error); it is not a member.</summary>
    public sealed record JoinRefused(string RoomId);

    /// <summary>
    /// Room hub → connection: a frame could not be queued on the connection's socket (its outbound
    /// queue is full, or it is already closing). The actor, owner of the socket's fate, cuts a slow
    /// consumer off; a closing connection ignores it.
    /// </summary>
    public sealed class OutboundRefused { public static readonly OutboundRefused Instance = new(); private OutboundRefused() { } }

    /// <summary>
    /// Connection → supervisor: a route-wide broadcast (a <c>publish</c> without a room, on routes
    /// that allow it). The supervisor is the single writer of the route's offsets and replies
    /// <see cref="RouteBroadcastAccepted"/>.
    /// </summary>
    public sealed record RouteBroadcast(string Route, string From, JsonElement Payload, bool ExcludeSender, string? Id);

    /// <summary>
    /// Host → its node's supervisor: a server-side broadcast to every connection of
    /// <paramref name="Route"/> in the cluster. The supervisor delivers to its own connections, sends
    /// one <see cref="Broker.Contracts.Cluster.RouteCommands.DeliverToRoute"/> to each other member,
    /// and replies <see cref="RouteBroadcastAccepted"/> with this node's offset.
    /// </summary>
    public sealed record PublishToRoute(string Route, string From, byte[] Payload);

    /// <summary>Supervisor → connection: the broadcast got this offset.</summary>
    public sealed record RouteBroadcastAccepted(string? Id, long Offset);

    /// <summary>Host/tests → supervisor: close every connection (graceful shutdown). Replies <see cref="AllClosed"/> once all are gone.</summary>
    public sealed record CloseAll(Close Close);

    /// <summary>Reply to <see cref="CloseAll"/>.</summary>
    public sealed class AllClosed { public static readonly AllClosed Instance = new(); private AllClosed() { } }

    /// <summary>Host/tests → supervisor: current counts. Replies <see cref="Stats"/>.</summary>
    public sealed class GetStats { public static readonly GetStats Instance = new(); private GetStats() { } }

    /// <summary>Reply to <see cref="GetStats"/>.</summary>
    public sealed record Stats(int Connections, int Authenticated, IReadOnlyDictionary<string, int> ByRoute);
}
