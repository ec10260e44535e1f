using Broker.Contracts.Protocol;

namespace Broker.Actors.Observability;

/// <summary>
/// The WebSocket access log as events on the node's Akka event stream. Connections and the host
/// publish them; the host's access logger subscribes and writes them (category <c>Broker.Access</c>).
/// They carry identifiers only: never a token, ticket or payload.
/// </summary>
public static class AccessEvents
{
    /// <summary>Marks every access-log event, so a logger subscribes once.</summary>
    public interface IAccessEvent;

    /// <summary>A socket was accepted (after the handshake checks).</summary>
    public sealed record Connected(string ConnectionId, string Route, string Node, string RemoteAddress, string? UserId) : IAccessEvent;

    /// <summary>The connection authenticated; <paramref name="Method"/> is <c>ticket</c>, <c>token</c> or <c>anonymous</c>.</summary>
    public sealed record Authenticated(string ConnectionId, string Route, string UserId, string Method) : IAccessEvent;

    /// <summary>Authentication was refused or ended. <paramref name="Detail"/> is the validator's message, which never contains the token.</summary>
    public sealed record AuthFailed(string ConnectionId, string Route, string RemoteAddress, string Reason, string? Detail) : IAccessEvent;

    /// <summary>The connection asked to join a room.</summary>
    public sealed record Joined(string ConnectionId, string UserId, string Room) : IAccessEvent;

    /// <summary>The connection left a room.</summary>
    public sealed record Left(string ConnectionId, string UserId, string Room) : IAccessEvent;

    /// <summary>The socket is gone: who, how long, how much, and why (<paramref name="Close"/>: the close the broker chose).</summary>
    public sealed record Closed(
        string ConnectionId, string Route, string Node, string RemoteAddress,
        TimeSpan Duration, Close Close, int? ClientCloseStatus,
        long FramesIn, long BytesIn, long FramesOut, long BytesOut) : IAccessEvent;
}
