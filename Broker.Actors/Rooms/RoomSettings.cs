namespace Broker.Actors.Rooms;

/// <summary>Room settings as the actors use them.</summary>
/// <param name="HistorySize">Messages kept for recovery.</param>
/// <param name="IdleTimeout">How long an empty room stays in memory.</param>
/// <param name="RejoinInterval">
/// How often a node's hubs repeat a re-registration (of room members, of users' connections) that
/// the room's or user's next incarnation has not confirmed yet, after the one they knew was lost.
/// </param>
/// <param name="AnswerTimeout">How long a hub waits for the first answer of a room it has no live link to.</param>
/// <param name="PresenceWindow">The window presence changes are counted and coalesced in (<see cref="PresenceThrottle"/>).</param>
/// <param name="PresenceBurst">Presence changes a room announces at once per window; more are coalesced.</param>
/// <param name="HistoryMaxBytes">Frame bytes one room's history may hold.</param>
/// <param name="HistoryNodeMaxBytes">Frame bytes all rooms' history on a node may hold; 0: the default share of memory (<see cref="HistoryBudget.DefaultLimit"/>).</param>
public sealed record RoomSettings(int HistorySize, TimeSpan IdleTimeout, TimeSpan? RejoinInterval = null, TimeSpan? AnswerTimeout = null,
    TimeSpan? PresenceWindow = null, int PresenceBurst = RoomSettings.DefaultPresenceBurst,
    long HistoryMaxBytes = 1024 * 1024, long HistoryNodeMaxBytes = 0)
{
    public const int DefaultPresenceBurst = 50;
    public static readonly TimeSpan DefaultPresenceWindow = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan DefaultHistoryTtl = TimeSpan.FromDays(1);
    public static readonly TimeSpan DefaultIdempotencyWindow = TimeSpan.FromMinutes(5);
    public const int DefaultMaxPresenceMembers = 1000;
    public static readonly TimeSpan DefaultOccupancyInterval = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Whether rooms write each publish to the journal before the ack (PROTOCOL §9.2). Needs a
    /// journal (Akka.Persistence) configured on the node.
    /// </summary>
    public bool Durable { get; init; }

    /// <summary>A message leaves history after this long, or when the size bounds push it out, whichever comes first.</summary>
    public TimeSpan HistoryTtl { get; init; } = DefaultHistoryTtl;

    /// <summary>How long a publish's <c>idempotencyKey</c> is remembered.</summary>
    public TimeSpan IdempotencyWindow { get; init; } = DefaultIdempotencyWindow;

    /// <summary>
    /// Keys one room remembers at most; past it the oldest are forgotten early. Bounds what a client
    /// that sends a new key with every publish can make a room hold (about 100 bytes a key).
    /// </summary>
    public int IdempotencyKeysMax { get; init; } = 10_000;

    /// <summary>What a room tells its members about who is in it (PROTOCOL §9.3); default <see cref="PresenceMode.Full"/>.</summary>
    public PresenceMode Presence { get; init; } = PresenceMode.Full;

    /// <summary>
    /// Users a <see cref="PresenceMode.Full"/> room lists at most: above it the room behaves as
    /// <see cref="PresenceMode.Counts"/> until it shrinks below it again (<see cref="PresencePolicy"/>).
    /// </summary>
    public int MaxPresenceMembers { get; init; } = DefaultMaxPresenceMembers;

    /// <summary>
    /// The shortest time between two <c>occupancy</c> counts of one room in counts mode. Not a
    /// configuration key: the contract says at most one per second; specs move it with virtual time.
    /// </summary>
    public TimeSpan OccupancyInterval { get; init; } = DefaultOccupancyInterval;

    /// <summary>
    /// Local members from which one broadcast is written by several threads (<see cref="FanOutLanes"/>,
    /// one per core) instead of the node's hub alone; 0: always the hub alone.
    /// </summary>
    public int ParallelFanOutThreshold { get; init; } = RoomHub.DefaultParallelFanOutThreshold;

    /// <summary>A durable room saves a snapshot of its history window (and trims its journal) after this many publishes.</summary>
    public int SnapshotEvery { get; init; } = 1000;

    /// <summary>
    /// Settings for rooms named <c>&lt;ns&gt;:&lt;rest&gt;</c>, by <c>ns</c> (Centrifugo's channel
    /// namespaces); a value left null falls back to these settings.
    /// </summary>
    public IReadOnlyDictionary<string, RoomNamespaceSettings> Namespaces { get; init; } =
        new Dictionary<string, RoomNamespaceSettings>(StringComparer.Ordinal);

    /// <summary>The namespace of <paramref name="roomId"/>: what precedes its first <c>:</c>, or null.</summary>
    public static string? NamespaceOf(string roomId)
    {
        var colon = roomId.IndexOf(':');
        return colon > 0 ? roomId[..colon] : null;
    }

    /// <summary>The settings <paramref name="roomId"/> runs with: its namespace's, falling back to these.</summary>
    public RoomSettings For(string roomId)
    {
        if (Namespaces.Count == 0 || NamespaceOf(roomId) is not { } ns || !Namespaces.TryGetValue(ns, out var overrides)) return this;
        return this with
        {
            Durable = overrides.Durable ?? Durable,
            HistorySize = overrides.HistorySize ?? HistorySize,
            HistoryTtl = overrides.HistoryTtl ?? HistoryTtl,
            Presence = overrides.Presence ?? Presence,
        };
    }
}

/// <summary>One room namespace's settings (<c>Broker:Rooms:Namespaces:&lt;ns&gt;:*</c>); null: the room default.</summary>
/// <param name="Presence">The namespace's presence mode (PROTOCOL §9.3); null: the room default.</param>
public sealed record RoomNamespaceSettings(bool? Durable = null, int? HistorySize = null, TimeSpan? HistoryTtl = null, PresenceMode? Presence = null);
