using System.Text.Json.Serialization;

namespace Broker.AspNetCore.Observability;

/// <summary>Source-generated JSON for the admin endpoints.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(AdminStatsResponse))]
[JsonSerializable(typeof(AdminClusterResponse))]
[JsonSerializable(typeof(AdminUserResponse))]
public sealed partial class AdminJsonContext : JsonSerializerContext;
