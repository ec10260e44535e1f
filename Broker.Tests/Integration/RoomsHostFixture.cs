
namespace Broker.Tests.Integration;

/// <summary>The host the room tests share: a small history, two rooms per connection, and an API key.</summary>
public sealed class RoomsHostFixture : HostFixture
{
    public const string ApiKey = "rooms-tests-api-key-0123456789";
    public const int HistorySize = 3;
    public const int MaxRoomsPerConnection = 2;

    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Broker:Rooms:HistorySize"] = HistorySize.ToString(),
        ["Broker:Limits:MaxRoomsPerConnection"] = MaxRoomsPerConnection.ToString(),
        ["Broker:ApiKey"] = ApiKey,
        // Rooms named counts:* and quiet:* run the other presence modes (PROTOCOL §9.3).
        ["Broker:Rooms:Namespaces:counts:Presence"] = "counts",
        ["Broker:Rooms:Namespaces:quiet:Presence"] = "off",
    };

    protected override string Environment => "Development";

    /// <summary>A unique room name, so tests sharing the host never share a room.</summary>
    public static string NewRoom(string prefix) => $"{prefix}-{Guid.NewGuid():N}";
}
