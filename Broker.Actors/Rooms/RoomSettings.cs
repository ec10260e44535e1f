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
}
