using Broker.Actors.Configuration;

namespace Broker.Actors.Rooms;

/// <summary>Room settings as the actors use them.</summary>
/// <param name="HistorySize">Messages kept for recovery.</param>
/// <param name="IdleTimeout">How long an empty room stays in memory.</param>
public sealed record RoomSettings(int HistorySize, TimeSpan IdleTimeout)
{
    public static RoomSettings From(BrokerOptions options) => new(options.Rooms.HistorySize, options.Rooms.IdleTimeout);
}
