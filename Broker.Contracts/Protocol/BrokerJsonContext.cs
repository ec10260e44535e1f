using System.Text.Json.Serialization;

namespace Broker.Contracts.Protocol;

/// <summary>
/// Source-generated System.Text.Json metadata for every wire shape, so the per-frame path never
/// uses reflection. camelCase on the wire; nulls omitted unless a property says otherwise.
/// A property named twice in one object is refused (issue #15): parsers disagree on which one
/// counts, so a frame with <c>"room":"a","room":"b"</c> could mean one thing here and another to
/// the members it is forwarded to.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    PropertyNameCaseInsensitive = false,
    AllowDuplicateProperties = false)]
[JsonSerializable(typeof(InboundEnvelope))]
[JsonSerializable(typeof(AuthData))]
[JsonSerializable(typeof(JoinData))]
[JsonSerializable(typeof(LeaveData))]
[JsonSerializable(typeof(PublishData))]
[JsonSerializable(typeof(SendData))]
[JsonSerializable(typeof(WelcomeData))]
[JsonSerializable(typeof(RefreshedData))]
[JsonSerializable(typeof(ErrorData))]
[JsonSerializable(typeof(PublishAckData))]
[JsonSerializable(typeof(SendAckData))]
[JsonSerializable(typeof(MessageData))]
[JsonSerializable(typeof(DirectData))]
[JsonSerializable(typeof(PresenceData))]
[JsonSerializable(typeof(OccupancyData))]
[JsonSerializable(typeof(JoinedData))]
[JsonSerializable(typeof(LeftData))]
public sealed partial class BrokerJsonContext : JsonSerializerContext;
