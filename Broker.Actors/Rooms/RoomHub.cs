using Akka.Actor;
using Broker.Actors.Connections;
using Broker.Actors.Observability;
using Broker.Contracts.Cluster;
using static Broker.Contracts.Cluster.RoomCommands;
using static Broker.Contracts.Cluster.RoomEvents;

namespace Broker.Actors.Rooms;

/// <summary>
/// One per node: the node's way in and out of the room tier. Connections send every room command
/// through it, so a connection's join, publishes and leave reach the room in the order it sent
/// them; rooms send each broadcast to it once, and it delivers to the node's local members.
/// A member stays "pending" until the room's join result passes through here, so it never sees
/// a live message older than its <c>joined</c> offset.
/// <para>
/// A member that joined with its socket (<see cref="LocalJoin"/>) gets room frames queued on that
/// socket directly: a broadcast costs one queue write per member, not an actor message per member
/// (the largest per-delivery cost found, docs/benchmarks.md). Its connection actor still owns the
/// socket's fate: when a frame is refused (queue full or closing) the hub stops writing to that
/// member and tells the actor, which cuts a slow consumer off. The joined/history frames take the
/// same path as live ones, so a member sees them in order.
/// </para>
/// </summary>
public sealed class RoomHub : ReceiveActor
{
    private readonly IActorRef _rooms;
    private readonly Dictionary<string, LocalRoomMembers> _byRoom = new(StringComparer.Ordinal);
    private readonly Dictionary<IActorRef, (string ConnectionId, HashSet<string> Rooms)> _byConnection = new();

    public RoomHub(IActorRef rooms)
    {
        _rooms = rooms;
        Receive<LocalJoin>(local => OnJoin(local.Join, local.Outbound));
        Receive<JoinRoom>(join => OnJoin(join, null));
        Receive<LeaveRoom>(leave =>
        {
            RemoveLocal(leave.RoomId, leave.ConnectionId, Sender);
            _rooms.Forward(leave);
        });
        Receive<PublishToRoom>(publish => _rooms.Forward(publish));
        Receive<JoinResult>(OnJoinResult);
        Receive<RoomBroadcast>(OnBroadcast);
        Receive<Terminated>(t => OnConnectionGone(t.ActorRef));
    }

    public static Props Props(IActorRef rooms) => Akka.Actor.Props.Create(() => new RoomHub(rooms));

    /// <summary>Connection → hub: join, and queue this room's frames on <paramref name="Outbound"/> directly.</summary>
    public sealed record LocalJoin(JoinRoom Join, IConnectionTransport Outbound);

    private void OnJoin(JoinRoom join, IConnectionTransport? outbound)
    {
        if (!_byRoom.TryGetValue(join.RoomId, out var members))
            _byRoom[join.RoomId] = members = new LocalRoomMembers();
        // A repeated join of an active member keeps it active: the room does not replay what it
        // broadcast before seeing the repeat, so pausing delivery here would lose those frames.
        if (!members.TryGet(join.ConnectionId, out var existing) || !existing.Connection.Equals(join.Connection))
            members.Add(new LocalMember(join.ConnectionId, join.Connection, outbound));
        if (!_byConnection.TryGetValue(join.Connection, out var entry))
        {
            _byConnection[join.Connection] = entry = (join.ConnectionId, new HashSet<string>(StringComparer.Ordinal));
            Context.Watch(join.Connection);
        }
        entry.Rooms.Add(join.RoomId);
        _rooms.Tell(join with { Hub = Self });
    }

    private void OnJoinResult(JoinResult result)
    {
        if (!_byRoom.TryGetValue(result.RoomId, out var members) || !members.TryGet(result.ConnectionId, out var member))
            return; // left or disconnected meanwhile
        foreach (var frame in result.Frames) Deliver(members, member, frame);
        if (result.Accepted) members.Activate(member);
        else RemoveLocal(result.RoomId, result.ConnectionId, member.Connection);
    }

    private void OnBroadcast(RoomBroadcast broadcast)
    {
        if (!_byRoom.TryGetValue(broadcast.RoomId, out var members)) return;
        // Counted and timed once per broadcast on this node, not per member: metric updates per
        // delivery were a visible share of fan-out CPU (docs/benchmarks.md).
        var stamp = BrokerMetrics.FanOutStamp(broadcast.Frame);
        var frame = broadcast.Frame;
        var exclude = broadcast.ExcludeConnectionId;
        var active = members.Active;
        var delivered = 0;
        if (members.ActiveSockets is { } sockets)
        {
            // The hot loop: one socket queue write per member (the raw-Kestrel baseline's loop).
            for (var i = 0; i < sockets.Length; i++)
            {
                if (exclude is not null && active[i].ConnectionId == exclude) continue;
                if (sockets[i].TrySend(frame)) delivered++;
                else Refused(members, active[i]);
            }
        }
        else
        {
            ConnectionMessages.Deliver? viaActor = null; // members without a socket here (tests, probes)
            foreach (var member in active)
            {
                if (exclude is not null && member.ConnectionId == exclude) continue;
                if (member.Outbound is null) member.Connection.Tell(viaActor ??= new ConnectionMessages.Deliver(frame, stamp));
                else if (Deliver(members, member, frame)) delivered++;
            }
        }
        BrokerMetrics.Delivered(stamp, delivered);
    }

    /// <summary>Queues one frame for a member; false when its socket refused it (the actor is told once).</summary>
    private static bool Deliver(LocalRoomMembers members, LocalMember member, byte[] frame)
    {
        if (member.Outbound is not { } outbound)
        {
            member.Connection.Tell(new ConnectionMessages.Deliver(frame));
            return false;
        }
        if (member.Refused) return false;
        if (outbound.TrySend(frame)) return true;
        Refused(members, member);
        return false;
    }

    /// <summary>A member's socket refused a frame: nothing more is written to it, and its actor decides.</summary>
    private static void Refused(LocalRoomMembers members, LocalMember member)
    {
        if (member.Refused) return;
        members.Refuse(member);
        member.Connection.Tell(ConnectionMessages.OutboundRefused.Instance);
    }

    private void OnConnectionGone(IActorRef connection)
    {
        if (!_byConnection.Remove(connection, out var entry)) return;
        foreach (var room in entry.Rooms)
        {
            if (_byRoom.TryGetValue(room, out var members))
            {
                members.Remove(entry.ConnectionId);
                if (members.Count == 0) _byRoom.Remove(room);
            }
            _rooms.Tell(new LeaveRoom(room, entry.ConnectionId, null, Reply: false));
        }
    }

    private void RemoveLocal(string roomId, string connectionId, IActorRef connection)
    {
        if (_byRoom.TryGetValue(roomId, out var members))
        {
            members.Remove(connectionId);
            if (members.Count == 0) _byRoom.Remove(roomId);
        }
        if (_byConnection.TryGetValue(connection, out var entry)) entry.Rooms.Remove(roomId);
    }
}
