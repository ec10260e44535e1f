using System.Security.Cryptography;
using Akka.Actor;
using Akka.Cluster.Sharding;
using Broker.Actors.Connections;
using Broker.Actors.Observability;
using Broker.Contracts.Cluster;
using Broker.Contracts.Protocol;
using static Broker.Contracts.Cluster.RoomCommands;
using static Broker.Contracts.Cluster.RoomEvents;

namespace Broker.Actors.Rooms;

/// <summary>
/// One room, a sharded entity: the single writer of its offsets, so the room is one ordered
/// stream wherever its members are. It fans out through hubs: each broadcast goes once to each
/// node with members (<see cref="RoomHub"/>), never once per member.
/// </summary>
public sealed class RoomActor : ReceiveActor
{
    private readonly RoomState _state;
    private readonly RoomSettings _settings;

    public RoomActor(string roomId, RoomSettings settings)
    {
        _settings = settings;
        // A fresh incarnation has no history: a new epoch tells returning clients to resync.
        _state = new RoomState(roomId, NewEpoch(), settings.HistorySize);

        Receive<JoinRoom>(OnJoin);
        Receive<LeaveRoom>(OnLeave);
        Receive<PublishToRoom>(OnPublish);
        Receive<GetRoomInfo>(_ => Sender.Tell(new RoomInfo(_state.RoomId, _state.Users(), _state.Offset, _state.Epoch)));
        Receive<Terminated>(t => OnHubGone(t.ActorRef));
        Receive<ReceiveTimeout>(_ =>
        {
            if (_state.MemberCount == 0) Context.Parent.Tell(new Passivate(PoisonPill.Instance));
        });
    }

    public static Props Props(string roomId, RoomSettings settings) =>
        Akka.Actor.Props.Create(() => new RoomActor(roomId, settings));

    protected override void PreStart()
    {
        BrokerMetrics.RoomsActive.Add(1);
        UpdateIdleTimer();
    }

    protected override void PostStop() => BrokerMetrics.RoomsActive.Add(-1);

    private void OnJoin(JoinRoom join)
    {
        var firstOfUser = _state.Join(new RoomMember(join.ConnectionId, join.UserId, join.Hub));
        Context.Watch(join.Hub);
        var recovery = _state.Recover(join.SinceEpoch, join.SinceOffset);
        var frames = new byte[recovery.Missed.Count + 1][];
        for (var i = 0; i < recovery.Missed.Count; i++) frames[i] = recovery.Missed[i];
        frames[^1] = ServerFrames.Joined(join.RequestId,
            new JoinedData(_state.RoomId, _state.Epoch, _state.Offset, _state.Users(), recovery.Recovered));
        join.Hub.Tell(new JoinResult(_state.RoomId, join.ConnectionId, true, frames));
        if (firstOfUser) BroadcastPresence("join", join.UserId, join.ConnectionId);
        UpdateIdleTimer();
    }

    private void OnLeave(LeaveRoom leave)
    {
        var (member, userLeft) = _state.Leave(leave.ConnectionId);
        if (leave.Reply) Sender.Tell(new ConnectionMessages.Deliver(ServerFrames.Left(leave.RequestId, _state.RoomId)));
        if (member is not null && userLeft) BroadcastPresence("leave", member.UserId, null);
        UpdateIdleTimer();
    }

    private void OnPublish(PublishToRoom publish)
    {
        if (publish.ConnectionId is not null && !_state.IsMember(publish.ConnectionId))
        {
            Sender.Tell(new PublishRejected(_state.RoomId, publish.RequestId, ErrorCodes.Forbidden, "join the room before publishing to it"));
            return;
        }
        var (offset, frame) = _state.Append(o => ServerFrames.Message(_state.RoomId, o, _state.Epoch, publish.From, publish.Payload));
        var broadcast = new RoomBroadcast(_state.RoomId, frame, publish.ExcludeSelf ? publish.ConnectionId : null);
        foreach (var hub in _state.Hubs) hub.Tell(broadcast);
        BrokerMetrics.RoomPublished();
        BrokerMetrics.RemoteHopsSent(RemoteHubs(), presence: false);
        Sender.Tell(new PublishAccepted(_state.RoomId, publish.RequestId, offset, _state.Epoch));
    }

    private void OnHubGone(IActorRef hub)
    {
        // The node left or died: its members are gone with it.
        foreach (var connectionId in _state.MembersOn(hub))
        {
            var (member, userLeft) = _state.Leave(connectionId);
            if (member is not null && userLeft) BroadcastPresence("leave", member.UserId, null);
        }
        UpdateIdleTimer();
    }

    private void BroadcastPresence(string @event, string userId, string? excludeConnectionId)
    {
        if (_state.MemberCount == 0) return;
        var frame = ServerFrames.Presence(new PresenceData(_state.RoomId, @event, userId));
        var broadcast = new RoomBroadcast(_state.RoomId, frame, excludeConnectionId);
        foreach (var hub in _state.Hubs) hub.Tell(broadcast);
        BrokerMetrics.RemoteHopsSent(RemoteHubs(), presence: true);
    }

    /// <summary>Hubs on other nodes: a local ref's address has no host.</summary>
    private int RemoteHubs()
    {
        var remote = 0;
        foreach (var hub in _state.Hubs) if (!hub.Path.Address.HasLocalScope) remote++;
        return remote;
    }

    private void UpdateIdleTimer()
    {
        if (_state.MemberCount == 0) Context.SetReceiveTimeout(_settings.IdleTimeout);
        else Context.SetReceiveTimeout(null);
    }

    private static string NewEpoch() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
}
