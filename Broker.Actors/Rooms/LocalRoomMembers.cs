using Akka.Actor;
using Broker.Actors.Connections;
using Broker.Contracts.Cluster;
using static Broker.Contracts.Cluster.RoomCommands;

namespace Broker.Actors.Rooms;

/// <summary>
/// One room's members on this node, as the <see cref="RoomHub"/> keeps them. Broadcasts walk a
/// cached array of the active members rather than the dictionary: in a 10k-member room the walk
/// is the hub's whole cost per broadcast, and an array of members is the cheapest thing to walk
/// (docs/benchmarks.md). Any change drops the cache; the next broadcast rebuilds it, so a storm of
/// joins with no broadcast in between costs nothing extra.
/// </summary>
internal sealed class LocalRoomMembers
{
    private readonly Dictionary<string, LocalMember> _byConnectionId = new(StringComparer.Ordinal);
    private LocalMember[]? _active;
    private IConnectionTransport[]? _sockets;
    private LaneSlices? _slices;

    public int Count => _byConnectionId.Count;

    /// <summary>This node's view of the room's stream: the incarnation, the position, what is held back.</summary>
    public RoomLink Link { get; } = new();

    /// <summary>Every member here, active or not.</summary>
    public IEnumerable<LocalMember> All => _byConnectionId.Values;

    public bool TryGet(string connectionId, out LocalMember member) =>
        _byConnectionId.TryGetValue(connectionId, out member!);

    public void Add(LocalMember member)
    {
        _byConnectionId[member.ConnectionId] = member;
        Changed();
    }

    public void Remove(string connectionId)
    {
        if (_byConnectionId.Remove(connectionId)) Changed();
    }

    /// <summary>The room's join result has passed through the hub: from now on it gets broadcasts.</summary>
    public void Activate(LocalMember member)
    {
        member.Active = true;
        Changed();
    }

    /// <summary>It is leaving: no more broadcasts (its <c>left</c> is on its way).</summary>
    public void Deactivate(LocalMember member)
    {
        if (!member.Active) return;
        member.Active = false;
        Changed();
    }

    /// <summary>
    /// Its socket refused a frame, seen by the hub itself: it gets nothing more (its actor is cutting
    /// it off). False when it was refused already (a lane saw it first). A refusal seen on a lane is
    /// not a change here: the lane skips the socket itself until the arrays are rebuilt anyway.
    /// </summary>
    public bool Refuse(LocalMember member)
    {
        if (!member.TryRefuse()) return false;
        Changed();
        return true;
    }

    /// <summary>
    /// Whether any member gets broadcasts. Asked on every join result, so it does not rebuild
    /// <see cref="Active"/> (which every join drops): that made N joins cost O(N²) (issue #18).
    /// </summary>
    public bool HasActive
    {
        get
        {
            if (_active is { } active) return active.Length > 0;
            foreach (var member in _byConnectionId.Values) if (member.Active && !member.Refused) return true;
            return false;
        }
    }

    /// <summary>The members that get broadcasts, in no particular order.</summary>
    public LocalMember[] Active => _active ??= _byConnectionId.Values.Where(m => m.Active && !m.Refused).ToArray();

    /// <summary>
    /// The sockets of <see cref="Active"/>, index for index, or null when some active member has no
    /// socket here (it joined through its actor only: tests). The broadcast loop over this array
    /// touches one object per member fewer than a loop over the members.
    /// </summary>
    public IConnectionTransport[]? ActiveSockets
    {
        get
        {
            if (_sockets is not null) return _sockets;
            var active = Active;
            var sockets = new IConnectionTransport[active.Length];
            for (var i = 0; i < active.Length; i++)
            {
                if (active[i].Outbound is not { } outbound) return null;
                sockets[i] = outbound;
            }
            return _sockets = sockets;
        }
    }

    /// <summary>
    /// <see cref="Active"/> split by the lane that writes each member's socket, for a broadcast too
    /// large for the hub's thread. Built on the hub's thread, read-only once handed to the lanes: a
    /// lane still writing an older broadcast keeps the arrays it was given.
    /// </summary>
    public LaneSlices SlicesFor(FanOutLanes lanes)
    {
        if (_slices is not null) return _slices;
        var active = Active;
        var counts = new int[lanes.Count];
        var viaActor = 0;
        foreach (var member in active)
        {
            if (member.Outbound is null) viaActor++;
            else counts[member.LaneIn(lanes)]++;
        }
        var slices = new LaneSlice[lanes.Count];
        for (var lane = 0; lane < slices.Length; lane++)
            slices[lane] = new LaneSlice(new LocalMember[counts[lane]], new IConnectionTransport[counts[lane]]);
        var actors = viaActor == 0 ? [] : new LocalMember[viaActor];
        Array.Clear(counts);
        viaActor = 0;
        foreach (var member in active)
        {
            if (member.Outbound is not { } socket)
            {
                actors[viaActor++] = member;
                continue;
            }
            var lane = member.LaneIn(lanes);
            var slice = slices[lane];
            slice.Members[counts[lane]] = member;
            slice.Sockets[counts[lane]++] = socket;
        }
        return _slices = new LaneSlices(slices, actors);
    }

    private void Changed()
    {
        _active = null;
        _sockets = null;
        _slices = null;
    }
}

/// <summary>One lane's members of a room: their sockets, and the members themselves index for index (for a refusal).</summary>
internal sealed record LaneSlice(LocalMember[] Members, IConnectionTransport[] Sockets);

/// <summary>A room's active members by lane, and those without a socket here (their actors deliver).</summary>
internal sealed record LaneSlices(LaneSlice[] ByLane, LocalMember[] ViaActor);

/// <summary>A local member of one room. Mutable: the broadcast loop flags it without copying.</summary>
internal sealed class LocalMember(string connectionId, string userId, IActorRef connection, IConnectionTransport? outbound)
{
    private List<(long Seq, IWithRoomId Command)>? _outstanding;

    public string ConnectionId { get; } = connectionId;

    public string UserId { get; } = userId;

    public IActorRef Connection { get; } = connection;

    /// <summary>The member's socket, written directly; null when it joined without one (its actor delivers).</summary>
    public IConnectionTransport? Outbound { get; } = outbound;

    /// <summary>What the connection last asked for: true after a join, false after a leave.</summary>
    public bool Joined { get; set; }

    /// <summary>False until the room's join result has passed through the hub.</summary>
    public bool Active { get; set; }

    private int _refused;
    private int _lane = -1;

    /// <summary>
    /// Its socket refused a frame: nothing more is written to it (the actor is closing it). Set by
    /// the hub or by a fan-out lane, whichever saw the refusal first (<see cref="TryRefuse"/>).
    /// </summary>
    public bool Refused => Volatile.Read(ref _refused) != 0;

    /// <summary>Marks it refused; true only for the first caller, on any thread (that one tells its actor).</summary>
    public bool TryRefuse() => Interlocked.Exchange(ref _refused, 1) == 0;

    /// <summary>The lane of <paramref name="lanes"/> that writes its socket (fixed for its connection), computed once.</summary>
    public int LaneIn(FanOutLanes lanes) => _lane >= 0 ? _lane : _lane = lanes.LaneOf(ConnectionId);

    /// <summary>Whether a leave sent to the room is still unanswered (a join result before it must not activate).</summary>
    public bool LeavePending
    {
        get
        {
            if (_outstanding is null) return false;
            foreach (var (_, command) in _outstanding) if (command is LeaveRoom) return true;
            return false;
        }
    }

    /// <summary>Nothing sent to the room for this member is still unanswered.</summary>
    public bool Settled => _outstanding is null || _outstanding.Count == 0;

    /// <summary>A join or leave went to the room as command <paramref name="seq"/>.</summary>
    public void Sent(long seq, IWithRoomId command) => (_outstanding ??= new(1)).Add((seq, command));

    /// <summary>The room answered command <paramref name="seq"/>; false when it is not outstanding (a stale answer).</summary>
    public bool Answered(long seq, out IWithRoomId? command)
    {
        command = null;
        if (_outstanding is null) return false;
        for (var i = 0; i < _outstanding.Count; i++)
        {
            if (_outstanding[i].Seq != seq) continue;
            command = _outstanding[i].Command;
            _outstanding.RemoveAt(i);
            return true;
        }
        return false;
    }

    /// <summary>Takes back every unanswered command (the incarnation they went to is gone), oldest first.</summary>
    public List<(long Seq, IWithRoomId Command)> TakeOutstanding()
    {
        var taken = _outstanding ?? [];
        _outstanding = null;
        return taken;
    }
}
