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
/// </summary>
public sealed class RoomHub : ReceiveActor
{
    private readonly IActorRef _rooms;
    private readonly Dictionary<string, Dictionary<string, LocalMember>> _byRoom = new(StringComparer.Ordinal);
    private readonly Dictionary<IActorRef, (string ConnectionId, HashSet<string> Rooms)> _byConnection = new();

    public RoomHub(IActorRef rooms)
    {
        _rooms = rooms;
        Receive<JoinRoom>(OnJoin);
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

    private void OnJoin(JoinRoom join)
    {
        if (!_byRoom.TryGetValue(join.RoomId, out var members))
            _byRoom[join.RoomId] = members = new Dictionary<string, LocalMember>(StringComparer.Ordinal);
        // A repeated join of an active member keeps it active: the room does not replay what it
        // broadcast before seeing the repeat, so pausing delivery here would lose those frames.
        if (!members.TryGetValue(join.ConnectionId, out var existing) || !existing.Connection.Equals(join.Connection))
            members[join.ConnectionId] = new LocalMember(join.Connection, Active: false);
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
        if (!_byRoom.TryGetValue(result.RoomId, out var members) || !members.TryGetValue(result.ConnectionId, out var member))
            return; // left or disconnected meanwhile
        foreach (var frame in result.Frames) member.Connection.Tell(new ConnectionMessages.Deliver(frame));
        if (result.Accepted) members[result.ConnectionId] = member with { Active = true };
        else RemoveLocal(result.RoomId, result.ConnectionId, member.Connection);
    }

    private void OnBroadcast(RoomBroadcast broadcast)
    {
        if (!_byRoom.TryGetValue(broadcast.RoomId, out var members)) return;
        // One envelope shared by all local members; the stamp times and counts message deliveries.
        var deliver = new ConnectionMessages.Deliver(broadcast.Frame, BrokerMetrics.FanOutStamp(broadcast.Frame));
        foreach (var (connectionId, member) in members)
        {
            if (!member.Active || connectionId == broadcast.ExcludeConnectionId) continue;
            member.Connection.Tell(deliver);
        }
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

    private sealed record LocalMember(IActorRef Connection, bool Active);
}
