using Akka.Actor;
using Broker.Actors.Connections;

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

    public int Count => _byConnectionId.Count;

    public bool TryGet(string connectionId, out LocalMember member) =>
        _byConnectionId.TryGetValue(connectionId, out member!);

    public void Add(LocalMember member)
    {
        _byConnectionId[member.ConnectionId] = member;
        _active = null;
    }

    public void Remove(string connectionId)
    {
        if (_byConnectionId.Remove(connectionId)) _active = null;
    }

    /// <summary>The room's join result has passed through the hub: from now on it gets broadcasts.</summary>
    public void Activate(LocalMember member)
    {
        member.Active = true;
        _active = null;
    }

    /// <summary>The members that get broadcasts, in no particular order.</summary>
    public LocalMember[] Active => _active ??= _byConnectionId.Values.Where(m => m.Active).ToArray();
}

/// <summary>A local member of one room. Mutable: the broadcast loop flags it without copying.</summary>
internal sealed class LocalMember(string connectionId, IActorRef connection, IConnectionTransport? outbound)
{
    public string ConnectionId { get; } = connectionId;

    public IActorRef Connection { get; } = connection;

    /// <summary>The member's socket, written directly; null when it joined without one (its actor delivers).</summary>
    public IConnectionTransport? Outbound { get; } = outbound;

    /// <summary>False until the room's join result has passed through the hub.</summary>
    public bool Active { get; set; }

    /// <summary>Its socket refused a frame: nothing more is written to it (the actor is closing it).</summary>
    public bool Refused { get; set; }
}
