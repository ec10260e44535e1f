using System.Text.Json.Serialization;

namespace Broker.Host.Hosting;

/// <summary>An HTTP error body: <c>{"error":"…"}</c>.</summary>
public sealed record HttpError(string Error);

/// <summary>The body of <c>POST /auth/ticket</c>.</summary>
public sealed record TicketResponse(string Ticket, int ExpiresIn);

/// <summary>The body of <c>POST /auth/dev-token</c>.</summary>
public sealed record DevTokenResponse(string Token, int ExpiresIn);

/// <summary>Source-generated JSON for the HTTP API's bodies.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(HttpError))]
[JsonSerializable(typeof(TicketResponse))]
[JsonSerializable(typeof(DevTokenResponse))]
public sealed partial class HostJsonContext : JsonSerializerContext;
