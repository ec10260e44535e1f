using System.Security.Cryptography;
using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Cluster.Sharding;
using Akka.Hosting;
using Broker.Actors.Observability;
using Broker.Actors.Sharding;
using Broker.Contracts.Cluster;
using Broker.Contracts.Protocol;
using static Broker.Contracts.Cluster.RoomCommands;
using static Broker.Contracts.Cluster.RoomEvents;

namespace Broker.Actors.Rooms;

/// <summary>
/// One room, a sharded entity: the single writer of its offsets, so the room is one ordered
/// stream wherever its members are. It fans out through hubs: each broadcast goes once to each
/// node with members (<see cref="RoomHub"/>), never once per member.
/// <para>
/// A durable room (PROTOCOL §9.2, <see cref="RoomSettings.Durable"/>) has a <see cref="RoomJournal"/>
/// child: it starts from what the journal recovered (same epoch after passivation, a crash, a
/// restart), and a publish is broadcast and acked only once the journal has written it (see
/// RoomActor.Durable.cs). A memory room starts with a new epoch: clients know to resync.
/// </para>
/// </summary>
public sealed partial class RoomActor : ReceiveActor, IWithTimers, IWithUnboundedStash
{
    private readonly RoomState _state;
    private readonly RoomSettings _settings;
    private readonly Dictionary<IActorRef, long> _rejoinsTaken = new(); // per hub: the last move it re-registered for
    private readonly PresenceThrottle _presence;
    private readonly PresencePolicy _policy;
    private readonly List<PresenceChange> _presenceDue = [];
    private readonly IdempotencyKeys _keys;
    private readonly long _historyTtlMs;

    /// <param name="settings">The node's room settings; the room takes its namespace's (<see cref="RoomSettings.For"/>).</param>
    /// <param name="storeHealth">Where a durable room reports its journal's failures and recoveries; none: nowhere.</param>
    public RoomActor(string roomId, RoomSettings settings, HistoryBudget? historyBudget = null, RoomStoreHealth? storeHealth = null)
    {
        _settings = settings = settings.For(roomId);
        // A fresh incarnation has no history: a new epoch tells returning clients to resync
        // (a durable room replaces it with the one its journal kept).
        var budget = historyBudget ?? new HistoryBudget(settings.HistoryNodeMaxBytes);
        _state = new RoomState(roomId, NewEpoch(), settings.HistorySize, settings.HistoryMaxBytes, budget.Open(Self));
        _presence = new PresenceThrottle(settings.PresenceBurst);
        _policy = new PresencePolicy(settings.Presence, settings.MaxPresenceMembers);
        _keys = new IdempotencyKeys(settings.IdempotencyWindow, settings.IdempotencyKeysMax);
        _historyTtlMs = settings.HistoryTtl > TimeSpan.Zero ? (long)settings.HistoryTtl.TotalMilliseconds : long.MaxValue;
        _storeHealth = storeHealth;
        if (settings.Durable) Become(WaitingForJournal);
        else Become(Ready);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public IStash Stash { get; set; } = null!;

    /// <summary>The room's working behaviour: every command served from its state.</summary>
    private void Ready()
    {
        Receive<JoinRoom>(OnJoin);
        Receive<LeaveRoom>(OnLeave);
        Receive<PublishToRoom>(OnPublish);
        Receive<RejoinRoom>(OnRejoin);
        Receive<FetchHistory>(OnFetchHistory);
        Receive<TrimHistory>(trim => TrimToNodeBudget(appending: false, trim.Hops));
        Receive<GetRoomInfo>(OnGetRoomInfo);
        Receive<PresenceWindowEnded>(_ => OnPresenceWindowEnded());
        Receive<OccupancyIntervalEnded>(_ => OnOccupancyIntervalEnded());
        Receive<ReceiveTimeout>(_ => PassivateIfIdle());
        Receive<HandOff>(_ => StopWhenWritten());
        ReceiveJournal();
    }

    /// <param name="historyBudget">The node's history budget, shared by its rooms; none: a budget of this room's own.</param>
    public static Props Props(string roomId, RoomSettings settings, HistoryBudget? historyBudget = null, RoomStoreHealth? storeHealth = null) =>
        Akka.Actor.Props.Create(() => new RoomActor(roomId, settings, historyBudget, storeHealth));

    protected override void PreStart()
    {
        BrokerMetrics.RoomsActive.Add(1);
        if (_settings.Durable) StartJournal();
        UpdateIdleTimer();
    }

    private void PassivateIfIdle()
    {
        // A durable room waits for its outstanding writes: their publishers are owed an answer.
        if (_state.MemberCount == 0 && _pending.Count == 0) Context.Parent.Tell(new Passivate(PoisonPill.Instance));
    }

    protected override void PostStop()
    {
        BrokerMetrics.RoomsActive.Add(-1);
        _state.ReleaseHistory();
    }

    private void OnJoin(JoinRoom join)
    {
        var firstOfUser = _state.Join(new RoomMember(join.ConnectionId, join.UserId, join.Hub));
        // Before the joined frame: the join that takes a full room past its threshold gets the count only.
        var switched = firstOfUser && _policy.Observe(_state.UserCount);
        Context.Watch(join.Hub);
        ExpireHistory();
        var recovery = _state.Recover(join.SinceEpoch, join.SinceOffset);
        var frames = new byte[recovery.Missed.Count + 1][];
        for (var i = 0; i < recovery.Missed.Count; i++) frames[i] = recovery.Missed[i];
        frames[^1] = ServerFrames.Joined(join.RequestId,
            new JoinedData(_state.RoomId, _state.Epoch, _state.Offset, ListedUsers(), recovery.Recovered, _state.UserCount));
        join.Hub.Tell(new JoinResult(_state.RoomId, join.ConnectionId, join.Seq, _state.Epoch, _state.Offset, frames));
        if (firstOfUser) Announce(new PresenceChange(join.UserId, Joined: true, join.ConnectionId), switched);
        UpdateIdleTimer();
    }

    private void OnLeave(LeaveRoom leave)
    {
        var (member, userLeft) = _state.Leave(leave.ConnectionId);
        // Answered through the hub, after the join result it may follow: a join and a leave sent
        // back to back are answered joined, then left.
        if (leave.Reply) Sender.Tell(new LeaveResult(_state.RoomId, leave.ConnectionId, leave.Seq));
        if (member is not null && userLeft) UserLeft(member.UserId);
        UpdateIdleTimer();
    }

    /// <summary>
    /// The users a <c>joined</c> (or a resync's) lists: all of them in a room with full presence
    /// (at most <c>MaxPresenceMembers</c>), else none: building the list is O(N) per join.
    /// </summary>
    private string[]? ListedUsers() => _policy.ListsMembers ? _state.Users() : null;

    private void OnGetRoomInfo(GetRoomInfo ask)
    {
        var (users, next) = _state.UsersPage(ask.After, Math.Clamp(ask.Limit, 1, GetRoomInfo.MaxLimit));
        Sender.Tell(new RoomInfo(_state.RoomId, users, _state.Offset, _state.Epoch, _state.UserCount, next));
    }

    private void OnPublish(PublishToRoom publish)
    {
        if (publish.ConnectionId is not null && !_state.IsMember(publish.ConnectionId))
        {
            Sender.Tell(new PublishRejected(_state.RoomId, publish.RequestId, ErrorCodes.Forbidden, "join the room before publishing to it", publish.Seq));
            return;
        }
        var now = NowMs();
        if (publish.IdempotencyKey is { } key)
        {
            if (_keys.TryGet(key, now, out var firstOffset))
            {
                // Seen within the window: applied once already, so the first one's ack and nothing else.
                BrokerMetrics.PublishDeduplicated();
                Sender.Tell(new PublishAccepted(_state.RoomId, publish.RequestId, firstOffset, _state.Epoch, publish.Seq));
                return;
            }
            if (JoinPendingWrite(key, publish)) return;
        }
        if (_settings.Durable)
        {
            AppendDurably(publish, now);
            return;
        }
        Accept(publish, Sender, _state.Offset + 1, ServerFrames.Message(_state.RoomId, _state.Offset + 1, _state.Epoch, publish.From, publish.Payload), now);
    }

    /// <summary>Takes an accepted publish into the stream: history, every hub with members, the publisher's ack.</summary>
    private void Accept(PublishToRoom publish, IActorRef publisher, long offset, byte[] frame, long atMs)
    {
        var (appended, _) = _state.Append(_ => frame, atMs);
        System.Diagnostics.Debug.Assert(appended == offset, "a room's offsets are assigned in order");
        if (publish.IdempotencyKey is { } key) _keys.Add(key, offset, atMs);
        var broadcast = new RoomBroadcast(_state.RoomId, frame, publish.ExcludeSelf ? publish.ConnectionId : null, _state.Epoch, offset);
        foreach (var hub in _state.Hubs) hub.Tell(broadcast);
        BrokerMetrics.RoomPublished();
        BrokerMetrics.RemoteHopsSent(RemoteHubs(), presence: false);
        publisher.Tell(new PublishAccepted(_state.RoomId, publish.RequestId, offset, _state.Epoch, publish.Seq));
        TrimToNodeBudget(appending: true, hops: 0);
    }

    /// <summary>Drops history past <c>HistoryTtl</c> before it is read.</summary>
    private void ExpireHistory() => _state.Expire(NowMs(), _historyTtlMs);

    /// <summary>The room's clock (unix ms): the scheduler's, so specs can move it with virtual time.</summary>
    private long NowMs() => Context.System.Scheduler.Now.ToUnixTimeMilliseconds();

    /// <summary>Trims this room's part of the node's history budget; the room holding older entries is told to trim next.</summary>
    private void TrimToNodeBudget(bool appending, int hops)
    {
        if (_state.TrimToNodeBudget(appending) is { } older && hops < TrimHistory.MaxHops && !older.Equals(Self))
            older.Tell(new TrimHistory(hops + 1));
    }

    /// <summary>
    /// A hub whose room incarnation went away re-registers its members here. Its members stayed
    /// joined (PROTOCOL §9.1): the room takes them as they are and gives the hub what they lack.
    /// </summary>
    private void OnRejoin(RejoinRoom rejoin)
    {
        Context.Watch(rejoin.Hub);
        // Members are added, never removed: the hub sends every join and leave it is unsure of
        // again after this, in order, so they settle membership. A copy of a rejoin already taken
        // (a repeat, or one that reached this node late through another node's region) changes
        // nothing, or it could undo what those commands did since.
        var arrived = new List<(string UserId, string ConnectionId)>();
        if (rejoin.Attempt > _rejoinsTaken.GetValueOrDefault(rejoin.Hub))
        {
            _rejoinsTaken[rejoin.Hub] = rejoin.Attempt;
            foreach (var member in rejoin.Members)
                if (_state.Join(new RoomMember(member.ConnectionId, member.UserId, rejoin.Hub))) arrived.Add((member.UserId, member.ConnectionId));
        }

        var switched = arrived.Count > 0 && _policy.Observe(_state.UserCount);
        ExpireHistory();
        var sameEpoch = rejoin.SinceEpoch == _state.Epoch;
        // Same epoch: only what the hub had not delivered yet. A new epoch: all of it, from offset 1.
        var recovery = sameEpoch ? _state.Recover(rejoin.SinceEpoch, rejoin.SinceOffset) : _state.Recover(_state.Epoch, 0);
        rejoin.Hub.Tell(new RejoinResult(_state.RoomId, rejoin.Attempt, _state.Epoch, _state.Offset, ListedUsers(),
            recovery.Missed.ToArray(), sameEpoch && recovery.Recovered, _state.UserCount));
        // After the result, so the rejoining members get their joined state before the news.
        if (switched) Announce(default, switched: true); // one count for all of them
        else foreach (var (userId, connectionId) in arrived) Announce(new PresenceChange(userId, Joined: true, connectionId), switched: false);
        UpdateIdleTimer();
    }

    private void OnFetchHistory(FetchHistory fetch)
    {
        ExpireHistory();
        var (first, frames, complete) = fetch.Epoch == _state.Epoch
            ? _state.Range(fetch.AfterOffset, fetch.UpToOffset)
            : (fetch.AfterOffset + 1, [], false);
        Sender.Tell(new HistoryRange(_state.RoomId, fetch.Epoch, first, fetch.UpToOffset, frames, complete, ListedUsers(), _state.UserCount));
    }

    private void OnHubGone(IActorRef hub)
    {
        _rejoinsTaken.Remove(hub);
        // The node left or died: its members are gone with it.
        foreach (var connectionId in _state.MembersOn(hub))
        {
            var (member, userLeft) = _state.Leave(connectionId);
            if (member is not null && userLeft) UserLeft(member.UserId);
        }
        UpdateIdleTimer();
    }

    private void UserLeft(string userId) => Announce(new PresenceChange(userId, Joined: false, null), _policy.Observe(_state.UserCount));

    /// <summary>
    /// A user joined or left: what the other members hear depends on the room's presence mode now
    /// (<see cref="PresencePolicy"/>). A switch between full and counts is announced as a count:
    /// leaving full, the <c>presence</c> frames still held are dropped (a count replaces them); back
    /// in full, the members' lists are stale, and the count tells them how many there are.
    /// </summary>
    private void Announce(PresenceChange change, bool switched)
    {
        if (switched)
        {
            _presence.Reset();
            _presenceDue.Clear();
            OfferCount();
            return;
        }
        switch (_policy.Effective)
        {
            case PresenceMode.Full:
                OfferPresence(change);
                break;
            case PresenceMode.Counts:
                OfferCount();
                break;
        }
    }

    /// <summary>The count changed: announced now, or at the interval's end (<see cref="PresencePolicy.CountChanged"/>).</summary>
    private void OfferCount()
    {
        if (_policy.CountChanged(_state.UserCount, out var intervalStarted) is { } count) BroadcastOccupancy(count);
        if (intervalStarted) Timers.StartSingleTimer(OccupancyIntervalEnded.Instance, OccupancyIntervalEnded.Instance, _settings.OccupancyInterval);
    }

    private void OnOccupancyIntervalEnded()
    {
        if (_policy.EndInterval(_state.UserCount) is { } count)
        {
            BroadcastOccupancy(count);
            Timers.StartSingleTimer(OccupancyIntervalEnded.Instance, OccupancyIntervalEnded.Instance, _settings.OccupancyInterval);
        }
    }

    private void BroadcastOccupancy(int count)
    {
        if (_state.MemberCount == 0) return; // nobody to tell
        Broadcast(ServerFrames.Occupancy(new OccupancyData(_state.RoomId, count)), null);
    }

    /// <summary>A presence change: announced now, or held and coalesced until the window ends (<see cref="PresenceThrottle"/>).</summary>
    private void OfferPresence(PresenceChange change)
    {
        if (_state.MemberCount == 0) return; // nobody to tell
        if (_presence.Offer(change, out var windowStarted)) BroadcastPresence(change);
        else BrokerMetrics.PresenceCoalesced();
        if (windowStarted) StartPresenceWindow();
    }

    private void OnPresenceWindowEnded()
    {
        _presence.EndWindow(_presenceDue, out var countInstead);
        if (_state.MemberCount > 0)
        {
            if (countInstead) Broadcast(ServerFrames.Occupancy(new OccupancyData(_state.RoomId, _state.UserCount)), null);
            else foreach (var change in _presenceDue) BroadcastPresence(change);
        }
        _presenceDue.Clear();
        if (_presence.WindowOpen) StartPresenceWindow();
    }

    private void StartPresenceWindow() =>
        Timers.StartSingleTimer(PresenceWindowEnded.Instance, PresenceWindowEnded.Instance, _settings.PresenceWindow ?? RoomSettings.DefaultPresenceWindow);

    private void BroadcastPresence(PresenceChange change) =>
        Broadcast(ServerFrames.Presence(new PresenceData(_state.RoomId, change.Joined ? "join" : "leave", change.UserId)),
            change.Joined ? change.ExcludeConnectionId : null);

    /// <summary>A frame outside the room's offsets (presence, occupancy) to every hub with members.</summary>
    private void Broadcast(byte[] frame, string? excludeConnectionId)
    {
        var broadcast = new RoomBroadcast(_state.RoomId, frame, excludeConnectionId, _state.Epoch, Offset: 0);
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

    /// <summary>Timer tick: the occupancy interval ended; announce the count if it changed.</summary>
    private sealed class OccupancyIntervalEnded
    {
        public static readonly OccupancyIntervalEnded Instance = new();
        private OccupancyIntervalEnded() { }
    }

    /// <summary>Timer tick: the presence window ended; announce what was held.</summary>
    private sealed class PresenceWindowEnded
    {
        public static readonly PresenceWindowEnded Instance = new();
        private PresenceWindowEnded() { }
    }
}

/// <summary>Registry key for the node's <see cref="RoomHub"/>.</summary>
public sealed class RoomHubKey;

/// <summary>Registers the room tier with Akka.Hosting.</summary>
public static class RoomActorHostingExtensions
{
    /// <summary>The room shard region and this node's <see cref="RoomHub"/> (registered as <see cref="RoomHubKey"/>).</summary>
    /// <param name="storeHealth">Where durable rooms report their journal's state (for <c>/health/ready</c>); none: not reported.</param>
    public static AkkaConfigurationBuilder AddRoomActor(this AkkaConfigurationBuilder akka, RoomSettings settings, string role = "broker",
        RoomStoreHealth? storeHealth = null)
    {
        // One history budget per node (this builder makes one actor system), shared by its rooms.
        var historyBudget = new HistoryBudget(settings.HistoryNodeMaxBytes);
        return akka
            .WithShardRegion<RoomActor>("rooms", roomId => RoomActor.Props(roomId, settings, historyBudget, storeHealth), new RoomMessageExtractor(),
                BrokerShardOptions.For(role, RoomActor.HandOff.Instance))
            .WithActors((system, registry) =>
            {
                registry.Register<RoomHubKey>(
                    system.ActorOf(RoomHub.Props(registry.Get<RoomActor>(), settings.RejoinInterval, settings.AnswerTimeout), "room-hub"));
                var self = Akka.Cluster.Cluster.Get(system).SelfAddress;
                var gauge = BrokerMetrics.ObserveHistory(historyBudget, $"{self.Host}:{self.Port}");
                system.WhenTerminated.ContinueWith(_ => gauge.Dispose(), TaskScheduler.Default);
            });
    }
}
