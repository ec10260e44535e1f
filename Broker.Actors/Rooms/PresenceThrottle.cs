namespace Broker.Actors.Rooms;

/// <summary>One presence change to announce: a user joined (or left) the room.</summary>
/// <param name="ExcludeConnectionId">The connection whose join caused it: it has the member list in its <c>joined</c>.</param>
public readonly record struct PresenceChange(string UserId, bool Joined, string? ExcludeConnectionId);

/// <summary>
/// Keeps a room's presence from being a weapon (issue #15): one client churning joins and leaves
/// made every other member's socket take thousands of <c>presence</c> frames a second, and cut
/// members that read promptly off as slow consumers. Plain state, driven by the room actor.
/// <para>
/// Up to <c>burst</c> changes per window go out at once, so an ordinary room sees no delay. Past
/// that, changes are held until the window ends and coalesced per user: a join and a leave of the
/// same user inside the window cancel out, and only users whose presence really changed are
/// announced. When even those are more than <c>burst</c>, one <c>occupancy</c> count replaces
/// them (PROTOCOL §9.3). Either way a member receives at most about <c>burst + 1</c> presence
/// frames per room per window, whatever the others do.
/// </para>
/// </summary>
public sealed class PresenceThrottle
{
    private readonly int _burst;
    private readonly Dictionary<string, int> _heldIndex = new(StringComparer.Ordinal);
    private readonly List<Held> _held = [];
    private int _sentInWindow;

    /// <param name="burst">Changes announced at once per window (at least 1).</param>
    public PresenceThrottle(int burst) => _burst = Math.Max(1, burst);

    /// <summary>True while a window runs: the room must call <see cref="EndWindow"/> when it ends.</summary>
    public bool WindowOpen { get; private set; }

    /// <summary>Changes held for the window's end.</summary>
    public int HeldCount => _held.Count;

    /// <summary>
    /// A change happened. True: announce it now (and start the window timer if
    /// <see cref="WindowOpen"/> just became true). False: it is held for the window's end.
    /// </summary>
    public bool Offer(PresenceChange change, out bool windowStarted)
    {
        windowStarted = !WindowOpen;
        WindowOpen = true;
        // Once anything is held, later changes are held too: announced out of order, a user's
        // leave could overtake its own join.
        if (_held.Count == 0 && _sentInWindow < _burst)
        {
            _sentInWindow++;
            return true;
        }
        if (_heldIndex.TryGetValue(change.UserId, out var index))
        {
            var held = _held[index];
            _held[index] = held with { PresentNow = change.Joined, ExcludeConnectionId = change.Joined ? change.ExcludeConnectionId : null };
        }
        else
        {
            // A join means the user was absent before it, a leave that it was present.
            _heldIndex[change.UserId] = _held.Count;
            _held.Add(new Held(change.UserId, PresentBefore: !change.Joined, PresentNow: change.Joined, change.ExcludeConnectionId));
        }
        return false;
    }

    /// <summary>
    /// The window ended: what to announce now. <paramref name="changes"/> are the net changes, in
    /// the order their users first changed; <paramref name="countInstead"/> means there were too
    /// many and one <c>occupancy</c> replaces them. The next window opens only if something is
    /// announced now (what it announces counts against it), so a quiet room closes its window.
    /// </summary>
    public void EndWindow(List<PresenceChange> changes, out bool countInstead)
    {
        changes.Clear();
        foreach (var held in _held)
            if (held.PresentBefore != held.PresentNow) changes.Add(new PresenceChange(held.UserId, held.PresentNow, held.ExcludeConnectionId));
        _held.Clear();
        _heldIndex.Clear();
        countInstead = changes.Count > _burst;
        if (countInstead) changes.Clear();
        _sentInWindow = countInstead ? 1 : changes.Count;
        WindowOpen = _sentInWindow > 0;
    }

    /// <summary>
    /// Forgets the changes held (the room switched to counts: one count replaces them). The window
    /// itself runs on, so what was announced in it still counts against its burst.
    /// </summary>
    public void Reset()
    {
        _held.Clear();
        _heldIndex.Clear();
    }

    private readonly record struct Held(string UserId, bool PresentBefore, bool PresentNow, string? ExcludeConnectionId);
}
