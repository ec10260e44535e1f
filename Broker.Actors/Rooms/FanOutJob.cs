using Akka.Actor;
using Broker.Actors.Connections;
using Broker.Actors.Observability;

namespace Broker.Actors.Rooms;

/// <summary>
/// One unit of a <see cref="FanOutLanes"/> lane's work: a lane's share of a broadcast, one frame to
/// one member, or forgetting a gone socket. Every job counts in <see cref="FanOutLanes.Busy"/> from
/// the moment it is posted until it ran, so that the hub writes to a member itself only when no
/// lane still has a frame for anyone to write (then nothing it writes can overtake a lane's).
/// </summary>
internal abstract class FanOutJob
{
    public abstract void Run(FanOutLanes.Lane lane);

    /// <summary>Tells a member's actor, once, that its socket refused a frame: the actor cuts a slow consumer off.</summary>
    protected static void Refused(LocalMember member)
    {
        if (member.TryRefuse()) member.Connection.Tell(ConnectionMessages.OutboundRefused.Instance);
    }

    /// <summary>A lane's share of one broadcast: the frame to every socket of the lane's slice of the room.</summary>
    public sealed class Slice(LaneSlice members, FanOutBroadcast broadcast) : FanOutJob
    {
        public override void Run(FanOutLanes.Lane lane)
        {
            var sockets = members.Sockets;
            var frame = broadcast.Frame;
            var exclude = broadcast.Exclude;
            var delivered = 0;
            for (var i = 0; i < sockets.Length; i++)
            {
                var socket = sockets[i];
                if (ReferenceEquals(socket, exclude)) continue;
                switch (lane.TrySend(socket, frame))
                {
                    case SendOutcome.Sent:
                        delivered++;
                        break;
                    case SendOutcome.Refused:
                        Refused(members.Members[i]);
                        break;
                }
            }
            broadcast.SliceDone(delivered);
        }
    }

    /// <summary>One frame to one member (a <c>joined</c>, a <c>left</c>, a replayed message) while the room has lane work queued.</summary>
    public sealed class Single(LocalMember member, IConnectionTransport socket, byte[] frame) : FanOutJob
    {
        public override void Run(FanOutLanes.Lane lane)
        {
            if (member.Refused) return; // refused in this room, maybe by the hub itself before the room went to the lanes
            if (lane.TrySend(socket, frame) == SendOutcome.Refused) Refused(member);
        }
    }

    /// <summary>A socket's connection is gone: the lane forgets it refused frames (nothing queued after this names it).</summary>
    public sealed class Forget(IConnectionTransport socket) : FanOutJob
    {
        public override void Run(FanOutLanes.Lane lane) => lane.Forget(socket);
    }
}

/// <summary>
/// One broadcast split over lanes: the frame, the socket it skips (<c>excludeSelf</c>) and the
/// per-node delivery metric, recorded once when the last lane is done (as the hub's own loop does).
/// </summary>
internal sealed class FanOutBroadcast(byte[] frame, IConnectionTransport? exclude, long stamp, int slices)
{
    private int _slicesLeft = slices;
    private int _delivered;

    public byte[] Frame { get; } = frame;

    public IConnectionTransport? Exclude { get; } = exclude;

    public void SliceDone(int delivered)
    {
        Interlocked.Add(ref _delivered, delivered);
        if (Interlocked.Decrement(ref _slicesLeft) == 0) BrokerMetrics.Delivered(stamp, Volatile.Read(ref _delivered));
    }
}
