using Akka.Actor;
using Broker.Contracts.Cluster;
using static Broker.Contracts.Cluster.RoomEvents;

namespace Broker.Actors.Rooms;

/// <summary>
/// A <see cref="RoomHub"/>'s view of one room's stream on its node: the room incarnation it talks
/// to, the position (epoch, offset) its active members have been given, and what it holds back
/// while the room moves to another node or a gap is being filled. Only the hub touches it.
/// </summary>
internal sealed class RoomLink
{
    /// <summary>The room incarnation the hub last heard from, watched; null before the first answer and while moving.</summary>
    public IActorRef? Entity { get; set; }

    /// <summary>The epoch of the stream this node's members follow; null until the first join result.</summary>
    public string? Epoch { get; set; }

    /// <summary>An epoch this node's members were moved off: late broadcasts of it are dropped.</summary>
    public string? PreviousEpoch { get; set; }

    /// <summary>The offset of the last <c>message</c> delivered here.</summary>
    public long Offset { get; set; }

    /// <summary>The incarnation is gone and the hub is re-registering its members (<see cref="RoomCommands.RejoinRoom"/>).</summary>
    public bool Moving { get; set; }

    /// <summary>Numbers the moves, so an answer to an earlier move's rejoin is not taken for this one's.</summary>
    public long Attempt { get; set; }

    /// <summary>The members that stayed joined through this move, as sent in the rejoin.</summary>
    public RejoiningMember[] Stayed { get; set; } = [];

    /// <summary>The offset those members had when the move began.</summary>
    public long StayedOffset { get; set; }

    /// <summary>Commands went to a room with no incarnation known yet, and a deadline for its first answer runs.</summary>
    public bool AwaitingFirstAnswer { get; set; }

    /// <summary>A gap was seen and the missing range asked for.</summary>
    public bool Fetching { get; set; }

    /// <summary>Broadcasts held back while moving or fetching, in arrival order.</summary>
    public List<RoomBroadcast>? Held { get; set; }

    /// <summary>Joins and leaves not sent while moving, in the order the connections sent them.</summary>
    public List<(LocalMember? Member, IWithRoomId Command)>? Queued { get; set; }

    /// <summary>Publishes sent to the room and not answered yet, by the hub's command number.</summary>
    public HashSet<long>? Publishes { get; set; }
}
