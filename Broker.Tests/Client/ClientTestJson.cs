using System.Text.Json.Serialization;

namespace Broker.Tests.Client;

public sealed record ChatLine(string Text, int N);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(ChatLine))]
public sealed partial class ClientTestJson : JsonSerializerContext;
