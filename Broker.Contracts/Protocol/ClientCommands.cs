using System.Text.Json;

namespace Broker.Contracts.Protocol;

/// <summary>A validated client frame. <see cref="Id"/> is the client's correlation id, echoed on every reply.</summary>
public abstract record ClientCommand(string? Id);

/// <summary><c>auth</c>: first-message authentication, or a token refresh once authenticated.</summary>
public sealed record AuthCommand(string? Id, string Token) : ClientCommand(Id);

/// <summary>Where a client left off in a room: recover messages after <see cref="Offset"/> if the epoch still matches.</summary>
public sealed record RecoveryPosition(string Epoch, long Offset);

/// <summary><c>join</c> a room, optionally recovering from a position.</summary>
public sealed record JoinCommand(string? Id, string Room, RecoveryPosition? Since) : ClientCommand(Id);

/// <summary><c>leave</c> a room.</summary>
public sealed record LeaveCommand(string? Id, string Room) : ClientCommand(Id);

/// <summary>
/// <c>publish</c> to a room. <see cref="Room"/> is null only for the route-wide broadcast of a route
/// that allows it; <see cref="PayloadUtf8"/> is any JSON value, as the client's bytes (detached from
/// the inbound buffer): what the room forwards, never parsed into a document on the way.
/// </summary>
public sealed record PublishCommand(string? Id, string? Room, byte[] PayloadUtf8, bool ExcludeSelf, string? IdempotencyKey = null) : ClientCommand(Id)
{
    /// <summary>The payload as a <see cref="JsonElement"/>, parsed on each call (for callers that inspect it; the hot path does not).</summary>
    public JsonElement Payload
    {
        get
        {
            var reader = new Utf8JsonReader(PayloadUtf8);
            return JsonElement.ParseValue(ref reader);
        }
    }
}

/// <summary><c>send</c> a direct message to every connection of a user.</summary>
public sealed record SendCommand(string? Id, string User, JsonElement Payload) : ClientCommand(Id);

/// <summary><c>ping</c>: the client checks the server is alive; answered with <c>pong</c>.</summary>
public sealed record PingCommand(string? Id) : ClientCommand(Id);

/// <summary><c>pong</c>: the client answers a server <c>ping</c>. Needs no reply.</summary>
public sealed record PongCommand(string? Id) : ClientCommand(Id);

/// <summary>
/// A frame of an application-defined type (registered on the node, enabled on the connection's
/// route). <see cref="Data"/> is the raw <c>data</c> value (Undefined when absent), detached from the inbound buffer.
/// </summary>
public sealed record CustomCommand(string? Id, string Type, JsonElement Data) : ClientCommand(Id);

/// <summary>Why a frame was rejected: an <c>error</c> frame's code and message, and the id to echo if one was readable.</summary>
public sealed record ProtocolError(string Code, string Message, string? Id = null);
