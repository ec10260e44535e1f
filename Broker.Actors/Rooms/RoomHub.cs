using Akka.Actor;
using Broker.Actors.Connections;
using Broker.Actors.Observability;
using Broker.Contracts.Cluster;
using Broker.Contracts.Protocol;
using static Broker.Contracts.Cluster.RoomCommands;
using static Broker.Contracts.Cluster.RoomEvents;

namespace Broker.Actors.Rooms;

/// <summary>
/// One per node: the node's way in and out of the room tier. Connections send every room command
/// through it, so a connection's join, publishes and leave reach the room in the order it sent
/// them, and every answer comes back through it, in the room's order; rooms send each broadcast
/// to it once, and it delivers to the node's local members. A member stays "pending" until the
/// room's join result passes through here, so it never sees a live message older than its
/// <c>joined</c> offset.
/// <para>
/// A member that joined with its socket (<see cref="LocalJoin"/>) gets room frames queued on that
/// socket directly: a broadcast costs one queue write per member, not an actor message per member
/// (the largest per-delivery cost found, docs/benchmarks.md). Its connection actor still owns the
/// socket's fate: when a frame is refused (queue full or closing) the hub stops writing to that
/// member and tells the actor, which cuts a slow consumer off.
/// </para>
/// <para>
/// Membership outlives the room's node (PROTOCOL §9.1). The hub watches the room incarnation it
/// talks to and keeps the position it delivered (<see cref="RoomLink"/>). When that incarnation
/// is gone (its node died, or its shard was handed off), or a broadcast of another epoch shows it
/// was replaced, the hub re-registers its members with the next one (<see cref="RejoinRoom"/>,
/// repeated until answered) and gives them what they lack: for a room that lost its history, the
/// new epoch from offset 1 then a <c>joined</c> without <c>id</c>, <c>recovered:false</c>.
/// Meanwhile publishes get <c>unavailable</c>, and joins and leaves wait for the new incarnation.
/// A broadcast that skips offsets makes the hub fetch the missing range before it goes on
/// (or announce the loss with a <c>joined</c>, <c>recovered:false</c>): a member never sees a
/// silent gap inside one epoch.
/// </para>
/// </summary>
public sealed class RoomHub : ReceiveActor, IWithTimers
{
    /// <summary>How often a rejoin is sent again while the room has not answered it.</summary>
    public static readonly TimeSpan DefaultRejoinInterval = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long the hub waits for the first answer of a room it has no incarnation of yet. A join
    /// routed to a node that died (and is not yet downed) is lost with no one to tell: past this,
    /// the hub treats the room as moving, which re-sends what is unanswered once the room is back.
    /// </summary>
    public static readonly TimeSpan DefaultFirstAnswerTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Local members from which a broadcast is written by the fan-out lanes rather than the hub's
    /// own thread; 0: never. Below ~2000 handing the writes over would cost more than it saves (a
    /// wake-up per lane against a few hundred microseconds of writes). (The lanes were off for a
    /// while: the 10k bench reported lost deliveries with them on. That was the bench: its members
    /// read nothing until all 10k had joined, and on a loaded machine the broker closed the early
    /// ones for heartbeat silence; docs/benchmarks.md.)
    /// </summary>
    public const int DefaultParallelFanOutThreshold = 2000;

    private readonly IActorRef _rooms;
    private readonly TimeSpan _rejoinInterval;
    private readonly TimeSpan _firstAnswerTimeout;
    private readonly Dictionary<string, LocalRoomMembers> _byRoom = new(StringComparer.Ordinal);
    private readonly Dictionary<IActorRef, (string ConnectionId, HashSet<string> Rooms)> _byConnection = new();
    private readonly Dictionary<IActorRef, string> _roomByEntity = new();
    private readonly Dictionary<long, PendingPublish> _publishes = new();
    private long _seq;
    private readonly int _parallelThreshold;
    private readonly int _laneCount;
    private FanOutLanes? _lanes; // made for the first broadcast that needs them

    /// <param name="parallelFanOutThreshold">See <see cref="DefaultParallelFanOutThreshold"/>; 0: never parallel.</param>
    /// <param name="fanOutLanes">Threads a large broadcast is split over; default one per core.</param>
    public RoomHub(IActorRef rooms, TimeSpan? rejoinInterval = null, TimeSpan? firstAnswerTimeout = null,
        int parallelFanOutThreshold = DefaultParallelFanOutThreshold, int? fanOutLanes = null)
    {
        _rooms = rooms;
        _rejoinInterval = rejoinInterval ?? DefaultRejoinInterval;
        _firstAnswerTimeout = firstAnswerTimeout ?? DefaultFirstAnswerTimeout;
        _parallelThreshold = parallelFanOutThreshold;
        _laneCount = fanOutLanes ?? FanOutLanes.DefaultCount;
        Receive<LocalJoin>(local => OnJoin(local.Join, local.Outbound));
        Receive<JoinRoom>(join => OnJoin(join, null));
        Receive<LeaveRoom>(OnLeave);
        Receive<PublishToRoom>(OnPublish);
        Receive<JoinResult>(OnJoinResult);
        Receive<LeaveResult>(OnLeaveResult);
        Receive<JoinRejected>(OnJoinRejected);
        Receive<PublishAccepted>(accepted => OnPublishAnswered(accepted.Seq, accepted));
        Receive<PublishRejected>(rejected => OnPublishAnswered(rejected.Seq, rejected));
        Receive<RoomBroadcast>(OnBroadcast);
        Receive<RejoinResult>(OnRejoinResult);
        Receive<HistoryRange>(OnHistoryRange);
        Receive<RetryRejoin>(retry =>
        {
            if (_byRoom.TryGetValue(retry.RoomId, out var room) && room.Link.Moving) SendRejoin(retry.RoomId, room);
        });
        Receive<FirstAnswerOverdue>(overdue =>
        {
            if (_byRoom.TryGetValue(overdue.RoomId, out var room) && room.Link is { Entity: null, Moving: false } && Unanswered(room))
                EnterMoving(overdue.RoomId, room);
        });
        Receive<Terminated>(t => OnTerminated(t.ActorRef));
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IActorRef rooms, TimeSpan? rejoinInterval = null, TimeSpan? firstAnswerTimeout = null,
        int parallelFanOutThreshold = DefaultParallelFanOutThreshold, int? fanOutLanes = null) =>
        Akka.Actor.Props.Create(() => new RoomHub(rooms, rejoinInterval, firstAnswerTimeout, parallelFanOutThreshold, fanOutLanes));

    protected override void PostStop()
    {
        _lanes?.Dispose();
        base.PostStop();
    }

    /// <summary>Connection → hub: join, and queue this room's frames on <paramref name="Outbound"/> directly.</summary>
    public sealed record LocalJoin(JoinRoom Join, IConnectionTransport Outbound);

    // ---- from connections ----

    private void OnJoin(JoinRoom join, IConnectionTransport? outbound)
    {
        if (!_byRoom.TryGetValue(join.RoomId, out var room))
            _byRoom[join.RoomId] = room = new LocalRoomMembers();
        // A repeated join of an active member keeps it active: the room does not replay what it
        // broadcast before seeing the repeat, so pausing delivery here would lose those frames.
        if (!room.TryGet(join.ConnectionId, out var member) || !member.Connection.Equals(join.Connection))
            room.Add(member = new LocalMember(join.ConnectionId, join.UserId, join.Connection, outbound));
        member.Joined = true;
        if (!_byConnection.TryGetValue(join.Connection, out var entry))
        {
            _byConnection[join.Connection] = entry = (join.ConnectionId, new HashSet<string>(StringComparer.Ordinal));
            Context.Watch(join.Connection);
        }
        entry.Rooms.Add(join.RoomId);
        SendCommand(room, member, join with { Hub = Self });
    }

    private void OnLeave(LeaveRoom leave)
    {
        if (_byConnection.TryGetValue(Sender, out var entry)) entry.Rooms.Remove(leave.RoomId);
        if (!_byRoom.TryGetValue(leave.RoomId, out var room) || !room.TryGet(leave.ConnectionId, out var member))
        {
            // Not in the room on this node, and nothing of it is in flight: nothing to order against.
            if (leave.Reply) Sender.Tell(new ConnectionCommands.Deliver(ServerFrames.Left(leave.RequestId, leave.RoomId)));
            return;
        }
        member.Joined = false;
        room.Deactivate(member);
        SendCommand(room, member, leave);
    }

    private void OnPublish(PublishToRoom publish)
    {
        if (!_byRoom.TryGetValue(publish.RoomId, out var room))
        {
            // Not a member here (the connection's own check let it through): the room decides.
            _rooms.Forward(publish);
            return;
        }
        if (room.Link.Moving)
        {
            Sender.Tell(new PublishRejected(publish.RoomId, publish.RequestId, ErrorCodes.Unavailable,
                "the room is moving to another node; publish again shortly"));
            return;
        }
        var seq = ++_seq;
        _publishes[seq] = new PendingPublish(Sender, publish.RoomId, publish.ConnectionId, publish.RequestId);
        (room.Link.Publishes ??= []).Add(seq);
        AwaitFirstAnswer(publish.RoomId, room);
        _rooms.Tell(publish with { Seq = seq });
    }

    /// <summary>Sends a join or leave to the room (numbered, so its answer can be matched), or holds it while the room moves.</summary>
    private void SendCommand(LocalRoomMembers room, LocalMember? member, IWithRoomId command)
    {
        if (room.Link.Moving)
        {
            (room.Link.Queued ??= []).Add((member, command));
            return;
        }
        var seq = ++_seq;
        var numbered = command switch
        {
            JoinRoom join => join with { Seq = seq },
            LeaveRoom { Reply: true } leave => leave with { Seq = seq },
            _ => command,
        };
        // Only a member still here waits for the answer; a gone connection's leave needs none.
        if (member is not null && numbered is JoinRoom or LeaveRoom { Reply: true } && room.TryGet(member.ConnectionId, out var current) && current == member)
            member.Sent(seq, numbered);
        AwaitFirstAnswer(command.RoomId, room);
        _rooms.Tell(numbered);
    }

    // ---- from rooms ----

    private void OnJoinResult(JoinResult result)
    {
        if (!_byRoom.TryGetValue(result.RoomId, out var room)) return;
        var link = room.Link;
        // An answer from an incarnation of another epoch: the one we knew was replaced unseen.
        // Its commands (this join included) are sent again once the members are re-registered.
        if (link.Epoch is not null && result.Epoch != link.Epoch && !link.Moving && result.Epoch != link.PreviousEpoch)
            EnterMoving(result.RoomId, room);
        if (!room.TryGet(result.ConnectionId, out var member) || !member.Answered(result.Seq, out _))
            return; // a stale answer: the member left, or its join was sent again
        if (link.Entity is null && !link.Moving) Link(result.RoomId, room, Sender, result.Epoch, result.Offset);
        else if (!room.HasActive && result.Epoch == link.Epoch) link.Offset = Math.Max(link.Offset, result.Offset);
        foreach (var frame in result.Frames) Deliver(room, member, frame);
        if (member.Joined && !member.LeavePending && !member.Refused) room.Activate(member);
        Settle(result.RoomId, room, member);
    }

    /// <summary>The room did not take the join (its store is unreachable): the member is told, and is not in the room.</summary>
    private void OnJoinRejected(JoinRejected rejected)
    {
        if (!_byRoom.TryGetValue(rejected.RoomId, out var room) || !room.TryGet(rejected.ConnectionId, out var member)) return;
        if (!member.Answered(rejected.Seq, out _)) return; // stale: the member left, or its join was sent again
        if (member.Settled && member.Joined)
        {
            member.Joined = false;
            room.Deactivate(member);
            if (_byConnection.TryGetValue(member.Connection, out var entry)) entry.Rooms.Remove(rejected.RoomId);
            // Before the error reaches the socket: a client that publishes as soon as it reads the
            // error must find its connection no longer in the room (forbidden, not a publish sent on).
            member.Connection.Tell(new ConnectionMessages.JoinRefused(rejected.RoomId));
        }
        Deliver(room, member, ServerFrames.Error(rejected.RequestId, rejected.Code, rejected.Message));
        Settle(rejected.RoomId, room, member);
    }

    private void OnLeaveResult(LeaveResult result)
    {
        if (!_byRoom.TryGetValue(result.RoomId, out var room) || !room.TryGet(result.ConnectionId, out var member)) return;
        if (!member.Answered(result.Seq, out var command)) return;
        Deliver(room, member, ServerFrames.Left(((LeaveRoom)command!).RequestId, result.RoomId));
        Settle(result.RoomId, room, member);
    }

    private void OnPublishAnswered(long seq, object answer)
    {
        if (seq == 0 || !_publishes.Remove(seq, out var publish)) return;
        if (!_byRoom.TryGetValue(publish.RoomId, out var room))
        {
            publish.Connection.Tell(answer);
            return;
        }
        room.Link.Publishes?.Remove(seq);
        // "Not a member" for a member this node has joined: the incarnation answering does not
        // know it yet (the publish reached the room's next incarnation before this node's
        // rejoin) or lost it (restarted). It was not applied, so: unavailable, and re-register.
        if (answer is PublishRejected { Code: ErrorCodes.Forbidden } && publish.ConnectionId is { } connectionId
            && room.TryGet(connectionId, out var member) && member.Joined)
        {
            if (!room.Link.Moving) EnterMoving(publish.RoomId, room);
            answer = new PublishRejected(publish.RoomId, publish.RequestId, ErrorCodes.Unavailable,
                "the room is moving to another node; publish again shortly", seq);
        }
        publish.Connection.Tell(answer);
        RemoveIfIdle(publish.RoomId, room);
    }

    private void OnBroadcast(RoomBroadcast broadcast)
    {
        if (!_byRoom.TryGetValue(broadcast.RoomId, out var room)) return;
        var link = room.Link;
        if (link.Epoch is null) return; // no join answered here yet, so nobody here is active
        if (broadcast.Epoch != link.Epoch)
        {
            if (broadcast.Epoch == link.PreviousEpoch) return; // a straggler of the history this node moved off
            if (!link.Moving) EnterMoving(broadcast.RoomId, room);
            (link.Held ??= []).Add(broadcast);
            return;
        }
        if (broadcast.Offset != 0)
        {
            if (broadcast.Offset <= link.Offset) return; // delivered already (a fetched range or a rejoin covered it)
            if (link.Moving || link.Fetching || (broadcast.Offset > link.Offset + 1 && room.Active.Length > 0))
            {
                // In order from the incarnation that is gone, it is still news; anything else waits.
                if (link.Moving && !link.Fetching && broadcast.Offset == link.Offset + 1 && link.Held is null)
                {
                    link.Offset = broadcast.Offset;
                    DeliverToActive(room, broadcast);
                    return;
                }
                (link.Held ??= []).Add(broadcast);
                if (!link.Moving && !link.Fetching) Fetch(broadcast.RoomId, room, broadcast.Offset - 1);
                return;
            }
            link.Offset = broadcast.Offset;
        }
        else if (link.Moving || link.Fetching)
        {
            (link.Held ??= []).Add(broadcast);
            return;
        }
        DeliverToActive(room, broadcast);
    }

    private void OnRejoinResult(RejoinResult result)
    {
        if (!_byRoom.TryGetValue(result.RoomId, out var room)) return;
        var link = room.Link;
        if (!link.Moving || result.Attempt != link.Attempt) return; // a repeat's answer, or an earlier move's
        Timers.Cancel(RejoinTimerKey(result.RoomId));
        link.Moving = false;
        var previous = link.Epoch;
        var deliveredMeanwhile = link.Offset - link.StayedOffset; // in-order stragglers of the gone incarnation
        Link(result.RoomId, room, Sender, result.Epoch, result.Offset);

        var stayed = new List<LocalMember>(link.Stayed.Length);
        foreach (var m in link.Stayed)
            if (room.TryGet(m.ConnectionId, out var member) && member.Active && !member.Refused) stayed.Add(member);
        if (result.Continuous)
        {
            // Same history: only what they lack.
            var skip = (int)Math.Min(result.Frames.Length, Math.Max(0, deliveredMeanwhile));
            foreach (var member in stayed)
                for (var i = skip; i < result.Frames.Length; i++) Deliver(room, member, result.Frames[i]);
        }
        else
        {
            // History was lost: the new epoch from offset 1, then the news (PROTOCOL §9.1).
            var joined = ServerFrames.Joined(null, new JoinedData(result.RoomId, result.Epoch, result.Offset, result.Users, Recovered: false, result.Count));
            foreach (var member in stayed)
            {
                foreach (var frame in result.Frames) Deliver(room, member, frame);
                Deliver(room, member, joined);
            }
            link.PreviousEpoch = previous;
            BrokerMetrics.RoomResynced(stayed.Count);
        }
        link.Stayed = [];

        // Publishes the lost incarnation never answered: applied to nothing that survives, or not at all.
        if (link.Publishes is { Count: > 0 } unanswered)
        {
            foreach (var seq in unanswered)
                if (_publishes.Remove(seq, out var publish))
                    publish.Connection.Tell(new PublishRejected(result.RoomId, publish.RequestId, ErrorCodes.Unavailable,
                        "the room's node was lost before it answered; publish again", seq));
            unanswered.Clear();
        }
        // What waited for the new incarnation, in order: commands the lost one may not have applied, then new ones.
        if (link.Queued is { } queued)
        {
            link.Queued = null;
            foreach (var (member, command) in queued) SendCommand(room, member, command);
        }
        ReleaseHeld(result.RoomId, room);
        RemoveIfIdle(result.RoomId, room);
    }

    private void OnHistoryRange(HistoryRange range)
    {
        if (!_byRoom.TryGetValue(range.RoomId, out var room)) return;
        var link = room.Link;
        if (!link.Fetching || link.Moving || range.Epoch != link.Epoch) return;
        link.Fetching = false;
        if (range.UpToOffset > link.Offset)
        {
            if (range.Complete)
            {
                for (var i = 0; i < range.Frames.Length; i++)
                    if (range.FirstOffset + i > link.Offset) DeliverToActive(room, range.Frames[i]);
            }
            else
            {
                // History no longer has it: say so rather than skip offsets silently.
                var joined = ServerFrames.Joined(null, new JoinedData(range.RoomId, range.Epoch, range.UpToOffset, range.Users, Recovered: false, range.Count));
                DeliverToActive(room, joined);
            }
            BrokerMetrics.RoomGapFilled(range.Complete);
            link.Offset = range.UpToOffset;
        }
        ReleaseHeld(range.RoomId, room);
    }

    private void OnTerminated(IActorRef actor)
    {
        if (_byConnection.ContainsKey(actor))
        {
            OnConnectionGone(actor);
            return;
        }
        if (!_roomByEntity.Remove(actor, out var roomId) || !_byRoom.TryGetValue(roomId, out var room)) return;
        if (!actor.Equals(room.Link.Entity)) return;
        room.Link.Entity = null;
        EnterMoving(roomId, room);
    }

    private void OnConnectionGone(IActorRef connection)
    {
        if (!_byConnection.Remove(connection, out var entry)) return;
        IConnectionTransport? socket = null;
        foreach (var roomId in entry.Rooms)
        {
            var leave = new LeaveRoom(roomId, entry.ConnectionId, null, Reply: false);
            if (!_byRoom.TryGetValue(roomId, out var room))
            {
                _rooms.Tell(leave);
                continue;
            }
            if (room.TryGet(entry.ConnectionId, out var gone)) socket ??= gone.Outbound;
            room.Remove(entry.ConnectionId);
            SendCommand(room, null, leave);
            RemoveIfIdle(roomId, room);
        }
        // Queued behind every frame the lane has for it: the lane's refusal record of the socket goes last.
        if (socket is not null && _lanes is { } lanes) lanes.Post(lanes.LaneOf(entry.ConnectionId), new FanOutJob.Forget(socket));
    }

    // ---- the room's stream on this node ----

    private void Link(string roomId, LocalRoomMembers room, IActorRef entity, string epoch, long offset)
    {
        var link = room.Link;
        if (link.Entity is { } old && !old.Equals(entity))
        {
            Context.Unwatch(old);
            _roomByEntity.Remove(old);
        }
        link.Entity = entity;
        link.Epoch = epoch;
        link.Offset = offset;
        Context.Watch(entity);
        _roomByEntity[entity] = roomId;
        if (link.AwaitingFirstAnswer)
        {
            link.AwaitingFirstAnswer = false;
            Timers.Cancel(FirstAnswerKey(roomId));
        }
    }

    /// <summary>With no incarnation known yet, DeathWatch cannot tell a lost command: a deadline does.</summary>
    private void AwaitFirstAnswer(string roomId, LocalRoomMembers room)
    {
        var link = room.Link;
        if (link.Entity is not null || link.Moving || link.AwaitingFirstAnswer) return;
        link.AwaitingFirstAnswer = true;
        Timers.StartSingleTimer(FirstAnswerKey(roomId), new FirstAnswerOverdue(roomId), _firstAnswerTimeout);
    }

    private static bool Unanswered(LocalRoomMembers room)
    {
        if (room.Link.Publishes is { Count: > 0 }) return true;
        foreach (var member in room.All) if (!member.Settled) return true;
        return false;
    }

    /// <summary>
    /// The incarnation this node talked to is gone: re-register the members that had their
    /// <c>joined</c>, and hold everything else until the next incarnation answers.
    /// </summary>
    private void EnterMoving(string roomId, LocalRoomMembers room)
    {
        var link = room.Link;
        if (link.Moving) return;
        link.Moving = true;
        link.AwaitingFirstAnswer = false;
        Timers.Cancel(FirstAnswerKey(roomId));
        link.Fetching = false;
        if (link.Entity is { } entity)
        {
            Context.Unwatch(entity);
            _roomByEntity.Remove(entity);
            link.Entity = null;
        }
        var active = room.Active;
        var stayed = new RejoiningMember[active.Length];
        for (var i = 0; i < active.Length; i++) stayed[i] = new RejoiningMember(active[i].ConnectionId, active[i].UserId);
        link.Stayed = stayed;
        link.StayedOffset = link.Offset;
        // Joins and leaves the lost incarnation may never have applied go again, in their order,
        // after the rejoin; their answers, should the old ones still come, are then stale.
        var inDoubt = new List<(long Seq, LocalMember Member, IWithRoomId Command)>();
        foreach (var member in room.All)
            foreach (var (seq, command) in member.TakeOutstanding()) inDoubt.Add((seq, member, command));
        inDoubt.Sort((a, b) => a.Seq.CompareTo(b.Seq));
        var queued = new List<(LocalMember? Member, IWithRoomId Command)>(inDoubt.Count + (link.Queued?.Count ?? 0));
        foreach (var (_, member, command) in inDoubt) queued.Add((member, command));
        if (link.Queued is not null) queued.AddRange(link.Queued);
        link.Queued = queued;
        link.Attempt++;
        BrokerMetrics.RoomMoved();
        SendRejoin(roomId, room);
        Timers.StartPeriodicTimer(RejoinTimerKey(roomId), new RetryRejoin(roomId), _rejoinInterval);
    }

    private void SendRejoin(string roomId, LocalRoomMembers room) =>
        _rooms.Tell(new RejoinRoom(roomId, Self, room.Link.Stayed, room.Link.Epoch, room.Link.StayedOffset, room.Link.Attempt));

    private void Fetch(string roomId, LocalRoomMembers room, long upTo)
    {
        room.Link.Fetching = true;
        _rooms.Tell(new FetchHistory(roomId, room.Link.Epoch!, room.Link.Offset, upTo));
    }

    /// <summary>Replays the broadcasts held back, in order, until one of them holds the stream again.</summary>
    private void ReleaseHeld(string roomId, LocalRoomMembers room)
    {
        var held = room.Link.Held;
        if (held is null) return;
        room.Link.Held = null;
        for (var i = 0; i < held.Count; i++)
        {
            if (room.Link.Moving || room.Link.Fetching)
            {
                (room.Link.Held ??= []).AddRange(held.GetRange(i, held.Count - i));
                return;
            }
            OnBroadcast(held[i]);
        }
    }

    private static string RejoinTimerKey(string roomId) => "rejoin:" + roomId;

    private static string FirstAnswerKey(string roomId) => "first-answer:" + roomId;

    /// <summary>A member with nothing asked and no longer joined is forgotten; a room with nobody and nothing in flight too.</summary>
    private void Settle(string roomId, LocalRoomMembers room, LocalMember member)
    {
        if (!member.Joined && member.Settled && room.TryGet(member.ConnectionId, out var current) && current == member)
            room.Remove(member.ConnectionId);
        RemoveIfIdle(roomId, room);
    }

    private void RemoveIfIdle(string roomId, LocalRoomMembers room)
    {
        var link = room.Link;
        if (room.Count > 0 || link.Moving || link.Fetching || link.Publishes is { Count: > 0 }) return;
        _byRoom.Remove(roomId);
        Timers.Cancel(FirstAnswerKey(roomId));
        if (link.Entity is { } entity)
        {
            Context.Unwatch(entity);
            _roomByEntity.Remove(entity);
        }
    }

    // ---- delivery ----
    //
    // A frame reaches a member's socket either from the hub's thread or from the member's fan-out
    // lane (a broadcast to at least _parallelThreshold members is split over the lanes). Per-room
    // order holds because a member's lane is fixed and runs its jobs in order, and because the hub
    // writes itself only while no lane has anything queued (FanOutLanes.Busy): until then every
    // frame, a single joined or left included, goes through the member's lane behind the others.

    private void DeliverToActive(LocalRoomMembers room, byte[] frame) => Broadcast(room, frame, exclude: null, stamp: 0);

    private void DeliverToActive(LocalRoomMembers members, RoomBroadcast broadcast) =>
        // Counted and timed once per broadcast on this node, not per member: metric updates per
        // delivery were a visible share of fan-out CPU (docs/benchmarks.md).
        Broadcast(members, broadcast.Frame, broadcast.ExcludeConnectionId, BrokerMetrics.FanOutStamp(broadcast.Frame));

    private void Broadcast(LocalRoomMembers members, byte[] frame, string? exclude, long stamp)
    {
        var active = members.Active;
        if (LanesFor(active.Length) is { } lanes)
        {
            BroadcastOnLanes(members, lanes, frame, exclude, stamp);
            return;
        }
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
            ConnectionCommands.Deliver? viaActor = null; // members without a socket here (tests, probes)
            foreach (var member in active)
            {
                if (exclude is not null && member.ConnectionId == exclude) continue;
                if (member.Outbound is null) member.Connection.Tell(viaActor ??= new ConnectionCommands.Deliver(frame, stamp));
                else if (Deliver(members, member, frame)) delivered++;
            }
        }
        BrokerMetrics.Delivered(stamp, delivered);
    }

    /// <summary>The lanes a write must go through now: for a large broadcast, and for anything while they have work queued; else null.</summary>
    private FanOutLanes? LanesFor(int members)
    {
        if (_lanes is { Busy: true } busy) return busy;
        if (_parallelThreshold <= 0 || members < _parallelThreshold) return null;
        return _lanes ??= new FanOutLanes(_laneCount);
    }

    private static void BroadcastOnLanes(LocalRoomMembers members, FanOutLanes lanes, byte[] frame, string? exclude, long stamp)
    {
        var slices = members.SlicesFor(lanes);
        IConnectionTransport? excludeSocket = null;
        if (exclude is not null && members.TryGet(exclude, out var excluded)) excludeSocket = excluded.Outbound;
        var busy = 0;
        foreach (var slice in slices.ByLane) if (slice.Sockets.Length > 0) busy++;
        if (busy == 0) BrokerMetrics.Delivered(stamp, 0);
        else
        {
            var broadcast = new FanOutBroadcast(frame, excludeSocket, stamp, busy);
            for (var lane = 0; lane < slices.ByLane.Length; lane++)
                if (slices.ByLane[lane].Sockets.Length > 0) lanes.Post(lane, new FanOutJob.Slice(slices.ByLane[lane], broadcast));
        }
        ConnectionCommands.Deliver? viaActor = null;
        foreach (var member in slices.ViaActor)
            if (member.ConnectionId != exclude) member.Connection.Tell(viaActor ??= new ConnectionCommands.Deliver(frame, stamp));
    }

    /// <summary>Queues one frame for a member; false when its socket refused it (the actor is told once) or the write went to its lane.</summary>
    private bool Deliver(LocalRoomMembers members, LocalMember member, byte[] frame)
    {
        if (member.Outbound is not { } outbound)
        {
            member.Connection.Tell(new ConnectionCommands.Deliver(frame));
            return false;
        }
        if (member.Refused) return false;
        if (_lanes is { Busy: true } lanes)
        {
            lanes.Post(member.LaneIn(lanes), new FanOutJob.Single(member, outbound, frame));
            return false;
        }
        if (outbound.TrySend(frame)) return true;
        Refused(members, member);
        return false;
    }

    /// <summary>A member's socket refused a frame: nothing more is written to it, and its actor decides.</summary>
    private static void Refused(LocalRoomMembers members, LocalMember member)
    {
        if (members.Refuse(member)) member.Connection.Tell(ConnectionMessages.OutboundRefused.Instance);
    }

    /// <summary>A connection's publish on its way to the room: whom to answer.</summary>
    private sealed record PendingPublish(IActorRef Connection, string RoomId, string? ConnectionId, string? RequestId);

    /// <summary>Timer tick: send the rejoin of a room that has not answered again.</summary>
    private sealed record RetryRejoin(string RoomId);

    /// <summary>Timer tick: a room this node had no incarnation of has not answered in time.</summary>
    private sealed record FirstAnswerOverdue(string RoomId);
}
