using Akka.Actor;
using Akka.Event;
using Broker.Actors.Observability;
using Broker.Contracts.Protocol;
using static Broker.Contracts.Cluster.RoomCommands;
using static Broker.Contracts.Cluster.RoomEvents;

namespace Broker.Actors.Rooms;

/// <summary>
/// A durable room's side of its journal (<see cref="RoomJournal"/>). Publishes get their offsets
/// in arrival order and wait, in that order, for the journal's writes: each one is broadcast and
/// acked when its write is done, so no member sees and no publisher is told of a message that a
/// crash could lose. Writes are pipelined (Akka's PersistAsync), and the publishes that come while
/// one is in flight are written together as one event (<see cref="RoomJournal"/>), so the journal
/// is a queue beside the fan-out, not a lock on it.
/// <para>
/// When the journal fails (the database is down), the room stays up with its members and history:
/// the writes it was waiting for are refused with <c>unavailable</c>, and so is every publish
/// until a new journal, started after a backoff, has recovered. A room that could not recover at
/// all refuses publishes and joins with <c>unavailable</c> and drops rejoins (their hubs repeat
/// them) until it can. Either way it recovers by itself when the database is back.
/// </para>
/// </summary>
public sealed partial class RoomActor
{
    private static readonly TimeSpan FirstRestartDelay = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan MaxRestartDelay = TimeSpan.FromSeconds(5);

    private readonly Queue<PendingWrite> _pending = new();
    private readonly RoomStoreHealth? _storeHealth;
    private IActorRef? _journal;
    private bool _journalUp;        // recovered and not failed since: writes may be sent
    private bool _recovered;        // this incarnation has its state from the journal
    private bool _recoveryFailed;   // not recovered yet, and the last attempt failed
    private bool _epochWriting;     // the first start's epoch is being written
    private long _sequenceNr;       // the journal position the room's state is at
    private long _sinceSnapshot;
    private TimeSpan _restartDelay = FirstRestartDelay;
    private bool _handingOff;       // the shard is moving: stop once the outstanding writes are done

    /// <summary>Before the journal first recovers: commands wait; after a failed attempt they are refused or dropped.</summary>
    private void WaitingForJournal()
    {
        Receive<PublishToRoom>(publish =>
        {
            if (!_recoveryFailed) Stash.Stash();
            else Sender.Tell(new PublishRejected(_state.RoomId, publish.RequestId, ErrorCodes.Unavailable, StoreUnreachable, publish.Seq));
        });
        Receive<JoinRoom>(join =>
        {
            if (!_recoveryFailed) Stash.Stash();
            else join.Hub.Tell(new JoinRejected(_state.RoomId, join.ConnectionId, join.Seq, join.RequestId, ErrorCodes.Unavailable, StoreUnreachable));
        });
        Receive<RejoinRoom>(_ =>
        {
            if (!_recoveryFailed) Stash.Stash(); // else dropped: the hub repeats it until answered
        });
        Receive<LeaveRoom>(leave =>
        {
            if (!_recoveryFailed) Stash.Stash();
            else if (leave.Reply) Sender.Tell(new LeaveResult(_state.RoomId, leave.ConnectionId, leave.Seq)); // nobody is a member yet
        });
        Receive<GetRoomInfo>(_ =>
        {
            if (!_recoveryFailed) Stash.Stash();
            else Sender.Tell(new RoomUnavailable(_state.RoomId, StoreUnreachable));
        });
        Receive<ReceiveTimeout>(_ => PassivateIfIdle());
        Receive<HandOff>(_ => Context.Stop(Self)); // nothing written or owed yet
        ReceiveJournal();
        ReceiveAny(_ => Stash.Stash());
    }

    private const string StoreUnreachable = "the room's store is unreachable; retry shortly";

    /// <summary>The journal's messages, in either behaviour.</summary>
    private void ReceiveJournal()
    {
        Receive<RoomJournal.Recovered>(OnJournalRecovered);
        Receive<RoomJournal.Appended>(OnAppended);
        Receive<RoomJournal.Failed>(failed =>
        {
            if (Sender.Equals(_journal)) _storeHealth?.Failed(_state.RoomId, failed.Reason);
        });
        Receive<RestartJournal>(_ =>
        {
            if (_journal is null) StartJournal();
        });
        Receive<Terminated>(t =>
        {
            if (t.ActorRef.Equals(_journal)) OnJournalLost();
            else OnHubGone(t.ActorRef);
        });
    }

    private void StartJournal()
    {
        _journal = Context.ActorOf(RoomJournal.Props(_state.RoomId, _settings, NowMs()));
        Context.Watch(_journal);
    }

    private void OnJournalRecovered(RoomJournal.Recovered recovered)
    {
        if (!Sender.Equals(_journal)) return;
        _storeHealth?.Succeeded();
        _restartDelay = FirstRestartDelay;
        if (!_recovered)
        {
            // The first recovery of this incarnation.
            _recovered = true;
            _recoveryFailed = false;
            _state.Restore(recovered.Epoch ?? _state.Epoch, recovered.Offset, recovered.History.Select(m => (m.Offset, m.Frame, m.AtMs)));
            foreach (var key in recovered.Keys) _keys.Add(key.Key, key.Offset, key.AtMs);
            _sequenceNr = recovered.SequenceNr;
            _sinceSnapshot = recovered.EventsSinceSnapshot;
            var expired = _state.Expire(NowMs(), _historyTtlMs);
            if (recovered.Epoch is null)
            {
                // A room never written: its epoch is written before anyone sees it, so it is the
                // same after passivation or a crash however soon they come.
                _epochWriting = true;
                _journal!.Tell(new RoomJournal.Append(new RoomEpochStarted(_state.Epoch)));
                return;
            }
            BecomeReady();
            // A room that was away long enough to lose history to its TTL trims its journal too.
            if (expired > 0) _sinceSnapshot = Math.Max(_sinceSnapshot, _settings.SnapshotEvery);
            MaybeSnapshot();
            return;
        }

        // A journal started again after a failure, the room up all along.
        if (recovered.Epoch == _state.Epoch && recovered.Offset > _state.Offset)
        {
            // Writes the failed journal reported as failed but that reached the database (a
            // timeout, not a refusal). They are in the stream now: members get them in order,
            // and a publisher that retries with its key gets this ack.
            foreach (var message in recovered.History)
            {
                if (message.Offset <= _state.Offset) continue;
                if (message.Offset != _state.Offset + 1) break; // older than the window: nothing to replay it from
                _state.Append(_ => message.Frame, message.AtMs);
                var broadcast = new RoomBroadcast(_state.RoomId, message.Frame, null, _state.Epoch, message.Offset);
                foreach (var hub in _state.Hubs) hub.Tell(broadcast);
            }
            foreach (var key in recovered.Keys) _keys.Add(key.Key, key.Offset, key.AtMs);
        }
        else if (recovered.Epoch != _state.Epoch || recovered.Offset < _state.Offset)
        {
            Context.GetLogger().Error("room {0}: the journal recovered epoch {1} offset {2}, but the room acked up to {3} of epoch {4}; " +
                "the database lost acknowledged writes", _state.RoomId, recovered.Epoch, recovered.Offset, _state.Offset, _state.Epoch);
        }
        _sequenceNr = recovered.SequenceNr;
        _sinceSnapshot = recovered.EventsSinceSnapshot;
        _journalUp = true;
        MaybeSnapshot();
    }

    private void BecomeReady()
    {
        _journalUp = true;
        Become(Ready);
        Stash.UnstashAll();
        UpdateIdleTimer();
    }

    /// <summary>A publish to a durable room: numbered now, broadcast and acked when its write is done.</summary>
    private void AppendDurably(PublishToRoom publish, long now)
    {
        if (!_journalUp)
        {
            Sender.Tell(new PublishRejected(_state.RoomId, publish.RequestId, ErrorCodes.Unavailable, StoreUnreachable, publish.Seq));
            return;
        }
        var offset = _state.Offset + _pending.Count + 1;
        var frame = ServerFrames.Message(_state.RoomId, offset, _state.Epoch, publish.From, publish.Payload);
        _pending.Enqueue(new PendingWrite(publish, Sender, offset, frame, now));
        _journal!.Tell(new RoomJournal.Append(new RoomMessagePublished(offset, frame, now, publish.IdempotencyKey)));
        Context.SetReceiveTimeout(null);
    }

    /// <summary>A publish whose key is still being written waits for that write's ack.</summary>
    private bool JoinPendingWrite(string key, PublishToRoom publish)
    {
        foreach (var write in _pending)
        {
            if (write.Publish.IdempotencyKey != key) continue;
            (write.Duplicates ??= []).Add((publish, Sender));
            BrokerMetrics.PublishDeduplicated();
            return true;
        }
        return false;
    }

    private void OnAppended(RoomJournal.Appended appended)
    {
        if (!Sender.Equals(_journal)) return;
        _sequenceNr = appended.SequenceNr;
        if (_epochWriting)
        {
            _epochWriting = false;
            BecomeReady();
            return;
        }
        // One journal event may hold several writes (a batch): all of them are applied before a
        // snapshot can be taken at its sequence number.
        for (var i = 0; i < appended.Writes && _pending.TryDequeue(out var write); i++)
        {
            _sinceSnapshot++;
            Accept(write.Publish, write.Publisher, write.Offset, write.Frame, write.AtMs);
            if (write.Duplicates is { } duplicates)
                foreach (var (publish, publisher) in duplicates)
                    publisher.Tell(new PublishAccepted(_state.RoomId, publish.RequestId, write.Offset, _state.Epoch, publish.Seq));
        }
        MaybeSnapshot();
        if (_pending.Count == 0)
        {
            UpdateIdleTimer();
            if (_handingOff) Context.Stop(Self);
        }
    }

    /// <summary>
    /// The shard moves to another node (a rolling restart): the room stops once the writes it sent
    /// are done and acked, so their publishers get their acks rather than an <c>unavailable</c>
    /// for a message that was written. The shard holds new messages meanwhile.
    /// </summary>
    private void StopWhenWritten()
    {
        if (_pending.Count == 0) Context.Stop(Self);
        else _handingOff = true;
    }

    /// <summary>Every <c>SnapshotEvery</c> writes: the window as of the last write applied, so recovery reads a bounded tail.</summary>
    private void MaybeSnapshot()
    {
        if (!_journalUp || _sinceSnapshot < Math.Max(1, _settings.SnapshotEvery) || _sequenceNr == 0) return;
        _sinceSnapshot = 0;
        _keys.Expire(NowMs());
        var snapshot = new RoomSnapshot(_state.Epoch, _state.Offset,
            _state.History().Select(h => new RoomSnapshotMessage(h.Offset, h.Frame, h.AtMs)).ToArray(),
            _keys.Entries().Select(k => new RoomSnapshotKey(k.Key, k.Offset, k.AtMs)).ToArray());
        _journal!.Tell(new RoomJournal.SaveRoomSnapshot(snapshot, _sequenceNr));
    }

    /// <summary>The journal stopped (a failed write or recovery): refuse what waited for it, and start another later.</summary>
    private void OnJournalLost()
    {
        _journal = null;
        var wasUp = _journalUp;
        _journalUp = false;
        BrokerMetrics.RoomStoreFailed();
        while (_pending.TryDequeue(out var write))
        {
            write.Publisher.Tell(new PublishRejected(_state.RoomId, write.Publish.RequestId, ErrorCodes.Unavailable, StoreUnreachable, write.Publish.Seq));
            if (write.Duplicates is { } duplicates)
                foreach (var (publish, publisher) in duplicates)
                    publisher.Tell(new PublishRejected(_state.RoomId, publish.RequestId, ErrorCodes.Unavailable, StoreUnreachable, publish.Seq));
        }
        if (_epochWriting || !wasUp && !_recovered)
        {
            // Never recovered: what waited is refused now (the stash replays it into the refusing handlers).
            _epochWriting = false;
            _recovered = false;
            _recoveryFailed = true;
            Stash.UnstashAll();
        }
        if (_handingOff)
        {
            Context.Stop(Self);
            return;
        }
        Timers.StartSingleTimer(RestartJournal.Instance, RestartJournal.Instance, _restartDelay);
        _restartDelay = TimeSpan.FromTicks(Math.Min(MaxRestartDelay.Ticks, _restartDelay.Ticks * 2));
        UpdateIdleTimer();
    }

    /// <summary>A publish the journal is writing: its offset and frame are fixed, its ack waits for the write.</summary>
    private sealed record PendingWrite(PublishToRoom Publish, IActorRef Publisher, long Offset, byte[] Frame, long AtMs)
    {
        /// <summary>Publishes with the same key that came while this one was being written: they get its ack.</summary>
        public List<(PublishToRoom Publish, IActorRef Publisher)>? Duplicates { get; set; }
    }

    /// <summary>The shard region's hand-off stop message for rooms (instead of <c>PoisonPill</c>).</summary>
    public sealed class HandOff
    {
        public static readonly HandOff Instance = new();
        private HandOff() { }
    }

    /// <summary>Timer tick: start a journal again after a failure.</summary>
    private sealed class RestartJournal
    {
        public static readonly RestartJournal Instance = new();
        private RestartJournal() { }
    }
}
