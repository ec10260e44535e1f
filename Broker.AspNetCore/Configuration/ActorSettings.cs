using Broker.Actors.Connections;
using Broker.Actors.Rooms;

namespace Broker.AspNetCore.Configuration;

/// <summary>Maps the bound <see cref="BrokerOptions"/> to the small settings records the actors take.</summary>
public static class ActorSettings
{
    public static ConnectionSettings ToConnectionSettings(this BrokerOptions options, string nodeName) => new(
        nodeName,
        options.Heartbeat.Interval,
        options.Heartbeat.Timeout,
        options.Auth.Timeout,
        options.Limits.MaxRoomsPerConnection,
        options.Limits.MaxConnectionsPerUser)
    {
        // Room rules are application code on the request path, as handlers are: one budget for both.
        RoomRuleTimeout = options.Limits.HandlerTimeout,
        RefreshTimeout = options.Auth.RefreshTimeout,
    };

    /// <remarks>
    /// A room's burst goes into each member's outbound queue at once, before its socket can drain
    /// any of it: a burst as large as the queue would cut off members that read promptly. So the
    /// burst is at most a quarter of <c>Broker:Limits:OutboundQueue</c>.
    /// </remarks>
    public static RoomSettings ToRoomSettings(this BrokerOptions options) =>
        new(options.Rooms.HistorySize, options.Rooms.IdleTimeout, options.Rooms.RejoinInterval, options.Rooms.AnswerTimeout,
            options.Rooms.PresenceWindow, Math.Clamp(options.Rooms.PresenceBurst, 1, Math.Max(1, options.Limits.OutboundQueue / 4)),
            options.Rooms.HistoryMaxBytes, options.Rooms.HistoryNodeMaxBytes)
        {
            Durable = options.RoomsDurable(),
            HistoryTtl = options.Rooms.HistoryTtl,
            IdempotencyWindow = options.Rooms.IdempotencyWindow,
            IdempotencyKeysMax = options.Rooms.IdempotencyKeysMax,
            SnapshotEvery = options.Persistence.SnapshotEvery,
            Presence = PresenceOf(options.Rooms.Presence) ?? PresenceMode.Full,
            MaxPresenceMembers = options.Rooms.MaxPresenceMembers,
            Namespaces = options.Rooms.Namespaces.ToDictionary(
                ns => ns.Key,
                ns => new RoomNamespaceSettings(ns.Value.Durable, ns.Value.HistorySize, ns.Value.HistoryTtl, PresenceOf(ns.Value.Presence)),
                StringComparer.Ordinal),
        };

    /// <summary>A configured presence mode; null when unset (the validator refused anything else at start-up).</summary>
    private static PresenceMode? PresenceOf(string? value) => PresenceModes.TryParse(value, out var mode) ? mode : null;

    /// <summary><c>Broker:Rooms:Durable</c> in effect: as set, or true exactly when a store is configured.</summary>
    public static bool RoomsDurable(this BrokerOptions options) =>
        options.Rooms.Durable ?? options.Persistence.EffectiveProvider(options.Cluster) != PersistenceOptions.None;
}
