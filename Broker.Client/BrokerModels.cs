using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Broker.Client;

/// <summary>The lifecycle of a <see cref="BrokerClient"/>.</summary>
public enum BrokerClientState
{
    /// <summary>Not connected yet (<see cref="BrokerClient.ConnectAsync"/> not called).</summary>
    Disconnected,
    /// <summary><see cref="BrokerClient.ConnectAsync"/> is opening the first connection.</summary>
    Connecting,
    /// <summary>Authenticated (<c>welcome</c> received) and rooms rejoined; requests go out at once.</summary>
    Connected,
    /// <summary>The connection dropped; reconnecting with backoff. Requests wait (up to the request timeout).</summary>
    Reconnecting,
    /// <summary>Stopped: closed by the app, by the server with 1000, by a close code that forbids reconnecting, or the first connection failed. <see cref="BrokerClient.ConnectAsync"/> may start again.</summary>
    Closed,
}

/// <summary><c>welcome</c>: the connection is authenticated.</summary>
/// <param name="Connection">The server's connection id.</param>
/// <param name="User">The authenticated user id.</param>
/// <param name="Node">The node serving the connection.</param>
/// <param name="ExpiresAt">When the credential expires (the client refreshes before), or null.</param>
/// <param name="HeartbeatInterval">How often the server pings.</param>
/// <param name="HeartbeatTimeout">Grace after a missed ping before the connection is considered dead.</param>
public sealed record Welcome(string Connection, string User, string Node, DateTimeOffset? ExpiresAt, TimeSpan HeartbeatInterval, TimeSpan HeartbeatTimeout);

/// <summary><c>joined</c>: the reply to a join.</summary>
/// <param name="Room">The room.</param>
/// <param name="Epoch">The room's history epoch; a new one means its history was lost.</param>
/// <param name="Offset">The room's last offset when joined; live messages follow it.</param>
/// <param name="Members">
/// Users in the room when it lists them (presence <c>full</c>); empty in a <c>counts</c> or <c>off</c>
/// room, or a full room past its threshold (PROTOCOL §9.3): see <see cref="MembersListed"/>.
/// </param>
/// <param name="Recovered">With a <c>since</c>: whether every missed message was still in history.</param>
public sealed record Joined(string Room, string Epoch, long Offset, IReadOnlyList<string> Members, bool Recovered)
{
    /// <summary>Users (not connections) in the room when joined; later changes arrive as <c>occupancy</c> or <c>presence</c>.</summary>
    public int Count { get; init; }

    /// <summary>Whether the server listed the members (false: the room sends counts, not names).</summary>
    public bool MembersListed { get; init; }
}

/// <summary>
/// A room message. <see cref="Payload"/> is the payload's raw UTF-8 JSON (a private copy, safe to
/// keep); parse it only if needed with <see cref="Deserialize{T}"/> or <see cref="ParsePayload"/>.
/// </summary>
/// <param name="Room">The room, or null for a route-wide broadcast.</param>
/// <param name="Offset">The position in the room's stream (1, 2, 3, …).</param>
/// <param name="Epoch">The room's history epoch, or null for a route-wide broadcast.</param>
/// <param name="From">The publishing user.</param>
/// <param name="Payload">The payload as raw UTF-8 JSON.</param>
public readonly record struct RoomMessage(string? Room, long Offset, string? Epoch, string From, ReadOnlyMemory<byte> Payload)
{
    /// <summary>Parses <see cref="Payload"/> into a detached element (allocates; prefer <see cref="Deserialize{T}"/> or the raw bytes on hot paths).</summary>
    public JsonElement ParsePayload() => JsonPayload.Parse(Payload);

    /// <summary>Deserializes <see cref="Payload"/> with source-generated metadata.</summary>
    public T? Deserialize<T>(JsonTypeInfo<T> typeInfo) => JsonSerializer.Deserialize(Payload.Span, typeInfo);
}

/// <summary>A <c>direct</c> message sent to this user.</summary>
/// <param name="From">The sending user.</param>
/// <param name="Payload">The payload as raw UTF-8 JSON.</param>
public readonly record struct DirectMessage(string From, ReadOnlyMemory<byte> Payload)
{
    /// <summary>Parses <see cref="Payload"/> into a detached element (allocates; prefer <see cref="Deserialize{T}"/> or the raw bytes on hot paths).</summary>
    public JsonElement ParsePayload() => JsonPayload.Parse(Payload);

    /// <summary>Deserializes <see cref="Payload"/> with source-generated metadata.</summary>
    public T? Deserialize<T>(JsonTypeInfo<T> typeInfo) => JsonSerializer.Deserialize(Payload.Span, typeInfo);
}

/// <summary><c>presence</c>: another member joined or left a room.</summary>
/// <param name="Room">The room.</param>
/// <param name="Joined">True for a join, false for a leave.</param>
/// <param name="User">The member.</param>
public sealed record PresenceChange(string Room, bool Joined, string User);

/// <summary><c>occupancy</c>: how many users are in a room now.</summary>
/// <param name="Room">The room.</param>
/// <param name="Count">Users (not connections) in it.</param>
public sealed record RoomOccupancy(string Room, int Count);

/// <summary>
/// A room was rejoined after a reconnection. When <see cref="Recovered"/> is false or
/// <see cref="EpochChanged"/> is true, messages were lost and the app must resync the room.
/// </summary>
/// <param name="Room">The room.</param>
/// <param name="Recovered">Every missed message was replayed (before this event, in order, without duplicates).</param>
/// <param name="EpochChanged">The room's history was lost (a new epoch); nothing could be replayed.</param>
/// <param name="Missed">How many missed messages were replayed.</param>
public sealed record RoomRecovered(string Room, bool Recovered, bool EpochChanged, int Missed);

/// <summary>
/// The room lost its history while the client stayed joined (PROTOCOL §9.1): its host node died and
/// the room restarted with a new epoch. Every message of the new epoch was raised before this event,
/// in order and once; messages of the old epoch after the last one raised may be missing, so the app
/// should reload what it shows of the room. The client's cursor is now <see cref="Epoch"/>/<see cref="Offset"/>.
/// </summary>
/// <param name="Room">The room.</param>
/// <param name="Epoch">The room's new epoch.</param>
/// <param name="Offset">The room's offset in the new epoch at the end of the resync.</param>
/// <param name="Recovered">As the server said; always false from a 1.1 server (history was lost).</param>
public sealed record RoomResynced(string Room, string Epoch, long Offset, bool Recovered);

/// <summary>The <c>ack</c> of a room publish: where the message landed in the room's stream.</summary>
/// <param name="Offset">The message's offset.</param>
/// <param name="Epoch">The room's epoch (protocol 1.1); null from an older server whose ack lacks it.</param>
public readonly record struct PublishAck(long Offset, string? Epoch);

/// <summary>A connection ended.</summary>
/// <param name="Code">The close code (1006 when it dropped without one, or the client aborted it).</param>
/// <param name="Reason">The close reason, if any (the client's own, e.g. <c>heartbeat timeout</c>, when it aborted).</param>
/// <param name="WillReconnect">Whether the client reconnects on its own.</param>
public sealed record ConnectionClosed(int Code, string? Reason, bool WillReconnect);

/// <summary>
/// A request failed on the broker's side (an <c>error</c> frame; <see cref="Code"/> is one of
/// <see cref="Protocol.ErrorCodes"/>) or on the client's (<see cref="Disconnected"/>, <see cref="Closed"/>).
/// </summary>
public sealed class BrokerException(string code, string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The connection dropped while the request was in flight; it may or may not have been applied (at most once).</summary>
    public const string Disconnected = "disconnected";

    /// <summary>The client is closed (by the app or by a close code that forbids reconnecting).</summary>
    public const string Closed = "closed";

    /// <summary>The error code: an <see cref="Protocol.ErrorCodes"/> value, <see cref="Disconnected"/> or <see cref="Closed"/>.</summary>
    public string Code { get; } = code;

    /// <summary>For a failed connection attempt: the close code or HTTP status behind it, if any.</summary>
    public int? CloseCode { get; init; }
}

internal static class JsonPayload
{
    public static JsonElement Parse(ReadOnlyMemory<byte> json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }
}

/// <summary>An event handler threw; reported through <see cref="BrokerClient.Error"/> (the client carries on).</summary>
public sealed class BrokerHandlerException(Exception inner) : Exception("An event handler threw: " + inner.Message, inner);
