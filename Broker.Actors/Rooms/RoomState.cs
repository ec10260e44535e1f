using Akka.Actor;
using Broker.Actors.Observability;

namespace Broker.Actors.Rooms;

/// <summary>One connection's membership of a room, and the node hub that delivers to it.</summary>
public sealed record RoomMember(string ConnectionId, string UserId, IActorRef Hub);

/// <summary>What a <c>join … since</c> gets back: the frames it missed, and whether that is all of them.</summary>
public sealed record Recovery(IReadOnlyList<byte[]> Missed, bool Recovered);

/// <summary>
/// A room's state without the actor: members (by connection, with their users and hubs), the
/// offset counter, the epoch, and the bounded history window. The room is the single writer, so
/// this needs no locking; tests drive it directly.
/// </summary>
/// <remarks>
/// History is bounded four ways, oldest entries first: <c>HistorySize</c> messages, <c>HistoryTtl</c>
/// (<see cref="Expire"/>), <c>HistoryMaxBytes</c>
/// frame bytes in this room (the newest message is always kept, even alone larger: inbound messages
/// are capped by <c>MaxMessageBytes</c>), and the node's <see cref="HistoryBudget"/> shared by every room.
/// Trimming only ever removes a prefix, so what is left is consecutive and ends at <see cref="Offset"/>.
/// </remarks>
public sealed class RoomState
{
    private readonly Dictionary<string, RoomMember> _members = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _connectionsPerUser = new(StringComparer.Ordinal);
    private readonly Dictionary<IActorRef, int> _membersPerHub = new();
    private readonly Queue<HistoryEntry> _history = new();
    private readonly int _historySize;
    private readonly long _historyMaxBytes;
    private readonly HistoryAccount _account;
    private int _newestLength;

    /// <param name="historyMaxBytes">Frame bytes this room's history may hold (<c>Broker:Rooms:HistoryMaxBytes</c>).</param>
    /// <param name="account">This room's account with the node's history budget; none: a budget of its own, unlimited.</param>
    public RoomState(string roomId, string epoch, int historySize, long historyMaxBytes = long.MaxValue, HistoryAccount? account = null)
    {
        RoomId = roomId;
        Epoch = epoch;
        _historySize = Math.Max(0, historySize);
        _historyMaxBytes = historyMaxBytes > 0 ? historyMaxBytes : long.MaxValue;
        _account = account ?? new HistoryBudget(long.MaxValue).Open(ActorRefs.Nobody);
    }

    public string RoomId { get; }

    /// <summary>Changes whenever history is lost (a new incarnation of the room), so clients know to resync.</summary>
    public string Epoch { get; private set; }

    /// <summary>The offset of the last accepted publish; 0 before the first.</summary>
    public long Offset { get; private set; }

    public int MemberCount => _members.Count;

    /// <summary>Distinct users among the members.</summary>
    public int UserCount => _connectionsPerUser.Count;

    /// <summary>Messages in history now.</summary>
    public int HistoryCount => _history.Count;

    /// <summary>Frame bytes in history now (what this room counts against the node's budget).</summary>
    public long HistoryBytes { get; private set; }

    /// <summary>The hubs (one per node) that have members, each to receive a broadcast once.</summary>
    public IReadOnlyCollection<IActorRef> Hubs => _membersPerHub.Keys;

    /// <summary>Distinct user ids of the members, in no promised order (join order only until a user leaves).</summary>
    public string[] Users() => _connectionsPerUser.Keys.ToArray();

    /// <summary>
    /// One page of the users, ordered ordinally: the first <paramref name="limit"/> after
    /// <paramref name="after"/> (null: from the start), and the last one returned when more remain
    /// (the next page starts after it), else null. Ordering by id rather than by join keeps a walk
    /// stable while users come and go: each user present throughout is returned exactly once.
    /// O(N log limit) per page, and nothing per join: a page is an API call, a join is the hot path.
    /// </summary>
    public (string[] Users, string? Next) UsersPage(string? after, int limit)
    {
        limit = Math.Max(1, limit);
        // The limit + 1 smallest ids after the cursor, in a max-heap: the one extra tells whether more remain.
        var heap = new PriorityQueue<string, string>(limit + 1, ReverseOrdinal.Instance);
        foreach (var user in _connectionsPerUser.Keys)
        {
            if (after is not null && string.CompareOrdinal(user, after) <= 0) continue;
            if (heap.Count <= limit) heap.Enqueue(user, user);
            else if (string.CompareOrdinal(user, heap.Peek()) < 0) heap.EnqueueDequeue(user, user);
        }
        var more = heap.Count > limit;
        if (more) heap.Dequeue();
        var page = new string[heap.Count];
        for (var i = page.Length - 1; i >= 0; i--) page[i] = heap.Dequeue();
        return (page, more ? page[^1] : null);
    }

    private sealed class ReverseOrdinal : IComparer<string>
    {
        public static readonly ReverseOrdinal Instance = new();
        public int Compare(string? x, string? y) => string.CompareOrdinal(y, x);
    }

    public bool IsMember(string connectionId) => _members.ContainsKey(connectionId);

    /// <summary>Adds a member; true when it is the user's first connection in the room (a presence <c>join</c>).</summary>
    public bool Join(RoomMember member)
    {
        if (_members.TryGetValue(member.ConnectionId, out var existing))
        {
            if (existing.Hub.Equals(member.Hub)) return false;
            Leave(member.ConnectionId);
        }
        _members[member.ConnectionId] = member;
        _membersPerHub[member.Hub] = _membersPerHub.GetValueOrDefault(member.Hub) + 1;
        var connections = _connectionsPerUser.GetValueOrDefault(member.UserId);
        _connectionsPerUser[member.UserId] = connections + 1;
        return connections == 0;
    }

    /// <summary>Removes a member; returns it and whether its user has no connection left here (a presence <c>leave</c>).</summary>
    public (RoomMember? Member, bool UserLeft) Leave(string connectionId)
    {
        if (!_members.Remove(connectionId, out var member)) return (null, false);
        if (--_membersPerHub[member.Hub] == 0) _membersPerHub.Remove(member.Hub);
        var remaining = --_connectionsPerUser[member.UserId];
        if (remaining == 0) _connectionsPerUser.Remove(member.UserId);
        return (member, remaining == 0);
    }

    /// <summary>Every member delivered through <paramref name="hub"/> (a node that went away).</summary>
    public List<string> MembersOn(IActorRef hub) =>
        _members.Values.Where(m => m.Hub.Equals(hub)).Select(m => m.ConnectionId).ToList();

    /// <summary>
    /// Accepts a publish: assigns the next offset, builds its frame with it, and keeps it in history,
    /// stamped <paramref name="atMs"/> (unix ms) for <see cref="Expire"/>.
    /// </summary>
    public (long Offset, byte[] Frame) Append(Func<long, byte[]> frameFor, long atMs = 0)
    {
        var offset = Offset + 1;
        var frame = frameFor(offset);
        Offset = offset;
        Keep(offset, frame, atMs);
        return (offset, frame);
    }

    /// <summary>
    /// A durable room's state as its journal recovered it: the epoch, the offset, and the history
    /// window (consecutive, oldest first). Only before any member joins or anything is appended.
    /// </summary>
    public void Restore(string epoch, long offset, IEnumerable<(long Offset, byte[] Frame, long AtMs)> history)
    {
        Epoch = epoch;
        Offset = offset;
        foreach (var (entryOffset, frame, atMs) in history)
            if (entryOffset <= offset) Keep(entryOffset, frame, atMs);
    }

    /// <summary>The history window, oldest first (what a durable room's snapshot holds).</summary>
    public IEnumerable<(long Offset, byte[] Frame, long AtMs)> History()
    {
        foreach (var entry in _history) yield return (entry.Offset, entry.Frame, entry.AtMs);
    }

    /// <summary>Drops the history entries stamped <paramref name="ttlMs"/> or longer before <paramref name="nowMs"/>.</summary>
    public int Expire(long nowMs, long ttlMs)
    {
        var dropped = 0;
        while (_history.Count > 0 && _history.Peek().AtMs > 0 && nowMs - _history.Peek().AtMs >= ttlMs)
        {
            DropOldest();
            dropped++;
        }
        return dropped;
    }

    private void Keep(long offset, byte[] frame, long atMs)
    {
        if (_historySize > 0)
        {
            _history.Enqueue(new HistoryEntry(offset, frame, _account.Budget.NextSequence(), atMs));
            HistoryBytes += frame.Length;
            _newestLength = frame.Length;
            _account.Added(frame.Length);
            if (_history.Count == 1) _account.SetOldest(_history.Peek().Sequence);
            while (_history.Count > _historySize) DropOldest();
            while (HistoryBytes > _historyMaxBytes && _history.Count > 1)
            {
                DropOldest();
                BrokerMetrics.HistoryTrimmed(node: false);
            }
        }
    }

    /// <summary>
    /// Brings the node back within its history budget as far as this room may: drops this room's
    /// oldest entries while the node is over budget and they are the node's oldest. Returns the
    /// actor of the room that holds the node's oldest entries when the node is still over (to be
    /// told <see cref="TrimHistory"/>), else null. Nothing is dropped while the node is within budget.
    /// </summary>
    /// <param name="appending">
    /// True right after an append: this room keeps its newest message (the one in flight), and if
    /// the node is still over by more than that message (other rooms have not trimmed yet) it
    /// drops its own older entries too, so the node never holds more than its budget plus one
    /// message per room, however slow the others are. False for a <see cref="TrimHistory"/>: it
    /// may give up all of its history.
    /// </param>
    public IActorRef? TrimToNodeBudget(bool appending)
    {
        var budget = _account.Budget;
        if (budget.Excess <= 0 || _history.Count == 0) return null;
        var (holder, othersOldest) = budget.OldestOtherThan(_account);
        var keep = appending ? 1 : 0;
        while (budget.Excess > 0 && _history.Count > keep && _history.Peek().Sequence < othersOldest) DropForNode();
        if (budget.Excess <= 0) return null;
        if (appending)
        {
            var newest = _history.Count > 0 ? _newestLength : 0;
            while (budget.Excess > newest && _history.Count > 1) DropForNode();
        }
        return holder is not null && holder.Bytes > 0 ? holder.Owner : null;
    }

    /// <summary>Gives this room's history bytes back to the node's budget (the room stops); history is kept for reads.</summary>
    public void ReleaseHistory() => _account.Close();

    private void DropForNode()
    {
        DropOldest();
        BrokerMetrics.HistoryTrimmed(node: true);
    }

    private void DropOldest()
    {
        var frame = _history.Dequeue().Frame;
        HistoryBytes -= frame.Length;
        _account.Removed(frame.Length);
        _account.SetOldest(_history.Count > 0 ? _history.Peek().Sequence : long.MaxValue);
    }


    /// <summary>
    /// The history frames after <paramref name="afterOffset"/> up to <paramref name="upToOffset"/>,
    /// consecutive from the first one returned; complete when they start right after
    /// <paramref name="afterOffset"/> and reach <paramref name="upToOffset"/>.
    /// </summary>
    public (long FirstOffset, byte[][] Frames, bool Complete) Range(long afterOffset, long upToOffset)
    {
        var asked = upToOffset;
        upToOffset = Math.Min(upToOffset, Offset);
        var frames = new List<byte[]>();
        long first = 0;
        foreach (var (offset, frame, _, _) in _history)
        {
            if (offset <= afterOffset || offset > upToOffset) continue;
            if (first == 0) first = offset;
            frames.Add(frame);
        }
        var complete = upToOffset == asked && frames.Count == upToOffset - afterOffset && (frames.Count == 0 || first == afterOffset + 1);
        return (first == 0 ? afterOffset + 1 : first, frames.ToArray(), complete);
    }

    /// <summary>
    /// What a client that last saw <paramref name="sinceOffset"/> in <paramref name="sinceEpoch"/>
    /// missed. Recovered only when the epoch matches and history still reaches back to the next offset.
    /// </summary>
    public Recovery Recover(string? sinceEpoch, long? sinceOffset)
    {
        if (sinceEpoch is null || sinceOffset is not { } since) return new Recovery([], false);
        if (sinceEpoch != Epoch || since < 0 || since > Offset) return new Recovery([], false);
        if (since == Offset) return new Recovery([], true);
        var missed = new List<byte[]>();
        long oldest = long.MaxValue;
        foreach (var (offset, frame, _, _) in _history)
        {
            oldest = Math.Min(oldest, offset);
            if (offset > since) missed.Add(frame);
        }
        return new Recovery(missed, oldest <= since + 1);
    }
}

/// <summary>One message in a room's history: its offset, frame, place in the node's budget order, and when it was accepted (unix ms; 0: never expires).</summary>
internal readonly record struct HistoryEntry(long Offset, byte[] Frame, long Sequence, long AtMs);
