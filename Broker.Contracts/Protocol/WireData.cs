using System.Text.Json;
using System.Text.Json.Serialization;

namespace Broker.Contracts.Protocol;

// The shapes of the envelope's "data" in both directions. They are plain DTOs for the
// source-generated serializer (BrokerJsonContext); validation lives in FrameParser.

/// <summary>The inbound envelope before validation. <c>id</c> and <c>data</c> stay raw so their shape can be checked precisely.</summary>
public sealed class InboundEnvelope
{
    public JsonElement Type { get; set; }
    public JsonElement Id { get; set; }
    public JsonElement Data { get; set; }
}

public sealed class AuthData { public string? Token { get; set; } }

public sealed class SinceData
{
    public string? Epoch { get; set; }
    public long? Offset { get; set; }
}

public sealed class JoinData
{
    public string? Room { get; set; }
    public SinceData? Since { get; set; }
}

public sealed class LeaveData { public string? Room { get; set; } }

public sealed class PublishData
{
    public string? Room { get; set; }
    public JsonElement Payload { get; set; }
    public bool? ExcludeSelf { get; set; }
    public string? IdempotencyKey { get; set; }
}

public sealed class SendData
{
    public string? User { get; set; }
    public JsonElement Payload { get; set; }
}

/// <summary><c>welcome</c>: sent once the connection is authenticated.</summary>
/// <param name="Session">The SSE session id the client POSTs its frames to (PROTOCOL §9.4); absent on WebSocket.</param>
public sealed record WelcomeData(
    string Connection,
    string User,
    string Node,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] long? ExpiresAt, // PROTOCOL §3: "unix ms or null", always present
    HeartbeatData Heartbeat,
    string? Session = null);

/// <summary>Heartbeat settings announced in <c>welcome</c>, in milliseconds.</summary>
public sealed record HeartbeatData(long Interval, long Timeout);

/// <summary><c>refreshed</c>: a token refresh was accepted.</summary>
public sealed record RefreshedData(long ExpiresAt);

/// <summary><c>error</c>.</summary>
public sealed record ErrorData(string Code, string Message);

/// <summary><c>ack</c> of a publish: the room's offset and epoch (PROTOCOL §9.1); no epoch for a route-wide broadcast.</summary>
public sealed record PublishAckData(long Offset, string? Epoch);

/// <summary><c>ack</c> of a direct send.</summary>
public sealed record SendAckData(int Delivered);

/// <summary><c>message</c>: one entry of a room's ordered stream. Room and epoch are null for a route-wide broadcast.</summary>
public sealed record MessageData(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Room,
    long Offset,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Epoch,
    string From,
    JsonElement Payload);

/// <summary><c>direct</c>: a message sent to this user.</summary>
public sealed record DirectData(string From, JsonElement Payload);

/// <summary><c>presence</c>: another member joined or left a room.</summary>
public sealed record PresenceData(string Room, string Event, string User);

/// <summary><c>occupancy</c>: how many users are in a room now (PROTOCOL §9.3).</summary>
public sealed record OccupancyData(string Room, int Count);

/// <summary>
/// <c>joined</c>: the reply to <c>join</c>. <see cref="Count"/> is the room's users now;
/// <see cref="Members"/> lists them only in a room with full presence (null: left out, PROTOCOL §9.3).
/// </summary>
public sealed record JoinedData(string Room, string Epoch, long Offset, IReadOnlyList<string>? Members, bool Recovered, int Count);

/// <summary><c>left</c>: the reply to <c>leave</c>.</summary>
public sealed record LeftData(string Room);
