namespace Broker.Actors.Rooms;

/// <summary>What a room tells its members about who is in it (PROTOCOL §9.3, <c>Broker:Rooms:Presence</c>).</summary>
public enum PresenceMode
{
    /// <summary><c>joined</c> lists the members; <c>presence</c> frames announce each join and leave.</summary>
    Full,

    /// <summary><c>joined</c> has the count only; <c>occupancy</c> counts, at most one per room per second.</summary>
    Counts,

    /// <summary><c>joined</c> has the count only; nothing else is announced.</summary>
    Off,
}

/// <summary>The configuration spelling of <see cref="PresenceMode"/>: <c>full</c>, <c>counts</c>, <c>off</c>.</summary>
public static class PresenceModes
{
    /// <summary>Reads a configured mode (case-insensitive); false for anything else.</summary>
    public static bool TryParse(string? value, out PresenceMode mode)
    {
        switch (value?.Trim().ToLowerInvariant())
        {
            case "full": mode = PresenceMode.Full; return true;
            case "counts": mode = PresenceMode.Counts; return true;
            case "off": mode = PresenceMode.Off; return true;
            default: mode = PresenceMode.Full; return false;
        }
    }
}
