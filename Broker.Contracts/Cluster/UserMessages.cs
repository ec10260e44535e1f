using Akka.Actor;
using Broker.Contracts.Protocol;

namespace Broker.Contracts.Cluster;

/// <summary>Messages addressed to one user's directory entry; routed by <see cref="UserId"/>.</summary>
public interface IWithUserId : IClusterMessage
{
    string UserId { get; }
}

/// <summary>Commands to the sharded per-user directory, which knows every connection of a user in the cluster.</summary>
public static class UserCommands
{
    /// <summary>
    /// A connection of this user authenticated (or is registered again, its directory entry having
    /// been lost with its node). With <paramref name="Confirm"/>, the entry answers
    /// <see cref="UserEvents.ConnectionRegistered"/> so the sender can watch it. With a
    /// <paramref name="Limit"/> above 0 (a new connection's first registration), an entry that
    /// already holds that many other connections refuses it with <see cref="UserEvents.ConnectionRefused"/>;
    /// 0 (a registration again after node loss) is never refused: a cap never evicts a connection.
    /// </summary>
    public sealed record RegisterConnection(string UserId, string ConnectionId, IActorRef Connection, bool Confirm = false, int Limit = 0) : IWithUserId;

    /// <summary>A connection of this user closed.</summary>
    public sealed record UnregisterConnection(string UserId, string ConnectionId) : IWithUserId;

    /// <summary>The rooms a connection is in changed (for the online-status API).</summary>
    public sealed record UpdateRooms(string UserId, string ConnectionId, string[] Rooms) : IWithUserId;

    /// <summary>
    /// Send a <c>direct</c> frame to every connection of the user. Replies <see cref="UserEvents.DirectDelivered"/>,
    /// echoing <paramref name="Seq"/> (the sending node's user hub numbers its connections' sends; 0 from the API).
    /// </summary>
    public sealed record SendToUser(string UserId, string From, byte[] Payload, string? RequestId, long Seq = 0) : IWithUserId;

    /// <summary>Ask for online status. Replies <see cref="UserEvents.UserStatus"/>.</summary>
    public sealed record GetUserStatus(string UserId) : IWithUserId;

    /// <summary>Ask for each connection of the user, with its node and rooms (the operator console). Replies <see cref="UserEvents.UserConnections"/>.</summary>
    public sealed record GetUserConnections(string UserId) : IWithUserId;

    /// <summary>
    /// Close every connection of the user, on any node, with this close code and reason (the
    /// operator's disconnect). Replies <see cref="UserEvents.UserDisconnected"/>. Code and reason
    /// travel as plain fields (a cluster message); the connection turns them back into a <see cref="Close"/>.
    /// </summary>
    public sealed record DisconnectUser(string UserId, int Code, string Reason) : IWithUserId
    {
        /// <summary>Disconnects with one of the catalogue's closes.</summary>
        public DisconnectUser(string userId, Close close) : this(userId, close.Code, close.Reason) { }
    }
}

/// <summary>Replies of the user directory.</summary>
public static class UserEvents
{
    /// <summary>The entry took a <see cref="UserCommands.RegisterConnection"/> that asked for confirmation (its sender watches the entry).</summary>
    public sealed record ConnectionRegistered(string UserId, string ConnectionId) : IClusterMessage;

    /// <summary>The entry refused a new connection: the user already has <paramref name="Limit"/> (<c>Broker:Limits:MaxConnectionsPerUser</c>).</summary>
    public sealed record ConnectionRefused(string UserId, string ConnectionId, int Limit) : IClusterMessage;

    /// <summary>How many connections a direct message reached.</summary>
    public sealed record DirectDelivered(string? RequestId, int Delivered, long Seq = 0) : IClusterMessage;

    /// <summary>How many connections a <see cref="UserCommands.DisconnectUser"/> closed.</summary>
    public sealed record UserDisconnected(string UserId, int Disconnected) : IClusterMessage;

    /// <summary>Online status across the cluster.</summary>
    public sealed record UserStatus(string UserId, bool Online, int Connections, string[] Rooms) : IClusterMessage;

    /// <summary>Every connection of the user across the cluster, ordered by node then connection id.</summary>
    public sealed record UserConnections(string UserId, UserConnection[] Connections) : IClusterMessage;

    /// <summary>One connection of a user: its id, its node (<c>host:port</c>, the node's name) and the rooms it is in.</summary>
    public sealed record UserConnection(string ConnectionId, string Node, string[] Rooms);
}
