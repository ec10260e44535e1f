using System.Text.Json.Serialization;
using Broker.AspNetCore.Embedding;

namespace Broker.AspNetCore.Hosting;

/// <summary>An HTTP error body: <c>{"error":"…"}</c>, with a protocol error <c>code</c> where one applies (<c>unavailable</c>).</summary>
public sealed record HttpError(string Error, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Code = null);

/// <summary>The body of <c>POST /auth/ticket</c>.</summary>
public sealed record TicketResponse(string Ticket, int ExpiresIn);

/// <summary>The body of <c>POST /auth/dev-token</c>.</summary>
public sealed record DevTokenResponse(string Token, int ExpiresIn);

/// <summary>The body of <c>POST /api/publish</c>: exactly one of room or user.</summary>
public sealed class ApiPublishRequest
{
    public string? Room { get; set; }
    public string? User { get; set; }
    public System.Text.Json.JsonElement Payload { get; set; }
    public string? IdempotencyKey { get; set; }
}

/// <summary>202 for a user publish.</summary>
public sealed record ApiSendAccepted(int Delivered);

/// <summary>The optional body of <c>POST /api/users/{user}/disconnect</c>; <c>reconnect</c> defaults to true.</summary>
public sealed class ApiDisconnectRequest
{
    public bool Reconnect { get; set; } = true;
}

/// <summary>202 for a disconnect: how many connections were closed.</summary>
public sealed record ApiDisconnectAccepted(int Disconnected);

/// <summary>202 for <c>POST /sse/{route}/{session}</c>: how many envelopes were queued for the session.</summary>
public sealed record SsePostAccepted(int Accepted);

/// <summary>Source-generated JSON for the HTTP API's bodies.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(HttpError))]
[JsonSerializable(typeof(SsePostAccepted))]
[JsonSerializable(typeof(TicketResponse))]
[JsonSerializable(typeof(DevTokenResponse))]
[JsonSerializable(typeof(ApiPublishRequest))]
[JsonSerializable(typeof(RoomPublished))]
[JsonSerializable(typeof(ApiSendAccepted))]
[JsonSerializable(typeof(RoomPresence))]
[JsonSerializable(typeof(UserPresence))]
[JsonSerializable(typeof(ApiDisconnectRequest))]
[JsonSerializable(typeof(ApiDisconnectAccepted))]
public sealed partial class HostJsonContext : JsonSerializerContext;
