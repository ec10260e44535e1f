namespace Broker.Actors.Rooms;

/// <summary>
/// A room's presence state machine (PROTOCOL §9.3), without the actor: which mode the room is in
/// now, and when an <c>occupancy</c> count is due. Plain state, driven by the room actor with its
/// user count after every change; specs drive it directly.
/// <para>
/// A <see cref="PresenceMode.Full"/> room switches to counts when it has more than
/// <c>maxPresenceMembers</c> users, and back to full once it has fewer than that again (at exactly
/// the threshold it stays as it is): listing members and announcing each change costs every
/// member O(N) frames per N joins, which a big room cannot afford (issue #18). The one-user band
/// keeps a room at the threshold from switching on every change; a room that does flap still
/// sends at most one <c>occupancy</c> per interval, because each switch is announced as a count.
/// </para>
/// <para>
/// Counts are coalesced per room, not per join: the first change after a quiet interval is
/// announced at once and opens an interval; changes inside it are held, and its end announces the
/// count if it differs from the last one announced (and opens the next interval). So members hear
/// at most one count per interval, the last one is exact, and a quiet room has no timer running.
/// </para>
/// </summary>
public sealed class PresencePolicy
{
    private readonly int _maxPresenceMembers;
    private int _announced = -1;
    private bool _held;

    /// <param name="configured">The room's configured mode.</param>
    /// <param name="maxPresenceMembers">Users a full room lists at most (at least 1).</param>
    public PresencePolicy(PresenceMode configured, int maxPresenceMembers)
    {
        Configured = configured;
        Effective = configured;
        _maxPresenceMembers = Math.Max(1, maxPresenceMembers);
    }

    /// <summary>The room's configured mode.</summary>
    public PresenceMode Configured { get; }

    /// <summary>How the room behaves now: <see cref="Configured"/>, or counts for a full room past the threshold.</summary>
    public PresenceMode Effective { get; private set; }

    /// <summary>True while an occupancy interval runs: the room must call <see cref="EndInterval"/> when it ends.</summary>
    public bool IntervalOpen { get; private set; }

    /// <summary>Whether <c>joined</c> lists the members (else it carries the count only).</summary>
    public bool ListsMembers => Effective == PresenceMode.Full;

    /// <summary>
    /// The room now has <paramref name="users"/> users; true when that switched <see cref="Effective"/>
    /// (a full room crossing the threshold either way).
    /// </summary>
    public bool Observe(int users)
    {
        if (Configured != PresenceMode.Full) return false;
        var next = Effective switch
        {
            PresenceMode.Full when users > _maxPresenceMembers => PresenceMode.Counts,
            PresenceMode.Counts when users < _maxPresenceMembers => PresenceMode.Full,
            _ => Effective,
        };
        if (next == Effective) return false;
        Effective = next;
        return true;
    }

    /// <summary>
    /// The count changed to <paramref name="users"/>. Returns the count to announce now, or null
    /// when it is held for the interval's end (or is what members last heard);
    /// <paramref name="intervalStarted"/>: start the interval timer.
    /// </summary>
    public int? CountChanged(int users, out bool intervalStarted)
    {
        intervalStarted = false;
        if (IntervalOpen)
        {
            _held = true;
            return null;
        }
        if (users == _announced) return null;
        IntervalOpen = intervalStarted = true;
        _announced = users;
        return users;
    }

    /// <summary>
    /// The interval ended with the room at <paramref name="users"/> users: the count to announce, or
    /// null. An announcement opens the next interval (<see cref="IntervalOpen"/> stays true); else the
    /// room goes quiet.
    /// </summary>
    public int? EndInterval(int users)
    {
        var due = _held && users != _announced;
        _held = false;
        IntervalOpen = due;
        if (!due) return null;
        _announced = users;
        return users;
    }
}
