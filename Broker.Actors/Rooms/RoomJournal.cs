using Akka.Actor;
using Akka.Event;
using Akka.Persistence;

namespace Broker.Actors.Rooms;

/// <summary>
/// A durable room's journal: a child of its <see cref="RoomActor"/>, the one persistent actor of
/// the room. It recovers the room's epoch, offset, history window and idempotency keys (a snapshot
/// and the events after it) and hands them to the room; then it writes what the room asks, in
/// order, and tells the room each write that is done. It keeps no state of its own after
/// recovery: the room does, so a journal that fails (the database is down) takes nothing with it.
/// Akka.Persistence stops a persistent actor whose write or recovery fails; the room watches this
/// one, refuses what it was waiting for with <c>unavailable</c> and starts another after a backoff.
/// </summary>
public sealed class RoomJournal : ReceivePersistentActor
{
    private readonly RoomSettings _settings;
    private readonly long _nowMs;
    private string? _epoch;
    private long _offset;
    private readonly Queue<RoomSnapshotMessage> _history = new();
    private IdempotencyKeys _keys;
    private long _eventsSinceSnapshot;

    public RoomJournal(string roomId, RoomSettings settings, long nowMs)
    {
        _settings = settings;
        _nowMs = nowMs;
        _keys = new IdempotencyKeys(settings.IdempotencyWindow, settings.IdempotencyKeysMax);
        PersistenceId = PersistenceIdOf(roomId);

        Recover<SnapshotOffer>(offer =>
        {
            if (offer.Snapshot is not RoomSnapshot snapshot) return;
            _epoch = snapshot.Epoch;
            _offset = snapshot.Offset;
            _history.Clear();
            foreach (var message in snapshot.History) Keep(message);
            _keys = new IdempotencyKeys(settings.IdempotencyWindow, settings.IdempotencyKeysMax);
            foreach (var key in snapshot.Keys) _keys.Add(key.Key, key.Offset, key.AtMs);
            _eventsSinceSnapshot = 0;
        });
        Recover<RoomEpochStarted>(started => _epoch ??= started.Epoch);
        Recover<RoomMessagePublished>(Replay);
        Recover<RoomMessagesPublished>(batch =>
        {
            foreach (var published in batch.Messages) Replay(published);
        });
        Recover<RecoveryCompleted>(_ =>
        {
            _keys.Expire(_nowMs);
            Context.Parent.Tell(new Recovered(_epoch, _offset, _history.ToArray(),
                _keys.Entries().Select(k => new RoomSnapshotKey(k.Key, k.Offset, k.AtMs)).ToArray(), LastSequenceNr, _eventsSinceSnapshot));
            // The room holds all of it from here on.
            _history.Clear();
            _keys = new IdempotencyKeys(TimeSpan.Zero, 1);
        });

        Command<Append>(append =>
        {
            _toWrite.Enqueue(append.Event);
            WriteNext();
        });
        // One snapshot save and one clean-up in flight at a time: overlapping deletes of the same
        // room's rows deadlock in PostgreSQL, and their timeouts open the journal's circuit breaker,
        // which the writes share (docs/benchmarks.md, durable). A snapshot asked for while one is
        // being saved is skipped: the room asks again after its next SnapshotEvery writes.
        Command<SaveRoomSnapshot>(save =>
        {
            if (_saving) return;
            _saving = true;
            SnapshotStore.Tell(new SaveSnapshot(new SnapshotMetadata(PersistenceId, save.SequenceNr, DateTime.UtcNow), save.Snapshot));
        });
        Command<SaveSnapshotSuccess>(saved =>
        {
            _saving = false;
            // The snapshot holds the whole window: older events and snapshots are clean-up.
            _deleteUpTo = Math.Max(_deleteUpTo, saved.Metadata.SequenceNr);
            CleanUp();
        });
        Command<SaveSnapshotFailure>(failed =>
        {
            _saving = false;
            Log.Warning("room {0}: snapshot not saved ({1}); the journal keeps the events", roomId, failed.Cause.Message);
        });
        Command<DeleteMessagesSuccess>(deleted =>
        {
            _deletedUpTo = Math.Max(_deletedUpTo, deleted.ToSequenceNr);
            DeleteSnapshots(new SnapshotSelectionCriteria(deleted.ToSequenceNr - 1));
        });
        Command<DeleteMessagesFailure>(failed =>
        {
            _deleting = false;
            Log.Warning("room {0}: old events not deleted ({1}); the next snapshot tries again", roomId, failed.Cause.Message);
        });
        Command<DeleteSnapshotsSuccess>(_ =>
        {
            _deleting = false;
            CleanUp();
        });
        Command<DeleteSnapshotsFailure>(_ =>
        {
            _deleting = false;
            CleanUp();
        });
    }

    public override string PersistenceId { get; }

    private bool _saving, _deleting;
    private long _deleteUpTo, _deletedUpTo;

    /// <summary>Events asked for while a write is in flight: the next write takes them, publishes batched.</summary>
    private readonly Queue<IRoomJournalEvent> _toWrite = new();
    private bool _writing;

    /// <summary>Bounds on one batched event: its row stays a size every provider takes in one statement.</summary>
    internal const int MaxBatchMessages = 500;
    internal const long MaxBatchBytes = 512 * 1024;

    /// <summary>
    /// One write in flight at a time, of everything that queued behind the previous one: a lone
    /// publish is written at once, as before; under load the publishes that came during a write go
    /// out together as one <see cref="RoomMessagesPublished"/> row. The room is told how many of
    /// its writes each journal write completed, so its state and the sequence number a snapshot
    /// names always cover whole events.
    /// </summary>
    private void WriteNext()
    {
        if (_writing || _toWrite.Count == 0) return;
        IRoomJournalEvent next;
        var writes = 1;
        if (_toWrite.Peek() is RoomMessagePublished)
        {
            var batch = new List<RoomMessagePublished>();
            long bytes = 0;
            while (batch.Count < MaxBatchMessages && _toWrite.TryPeek(out var queued) && queued is RoomMessagePublished published
                   && (batch.Count == 0 || bytes + published.Frame.Length <= MaxBatchBytes))
            {
                _toWrite.Dequeue();
                batch.Add(published);
                bytes += published.Frame.Length;
            }
            next = batch.Count == 1 ? batch[0] : new RoomMessagesPublished(batch.ToArray());
            writes = batch.Count;
        }
        else next = _toWrite.Dequeue();
        _writing = true;
        PersistAsync(next, _ =>
        {
            _writing = false;
            Context.Parent.Tell(new Appended(LastSequenceNr, writes));
            WriteNext();
        });
    }

    private void Replay(RoomMessagePublished published)
    {
        _offset = published.Offset;
        Keep(new RoomSnapshotMessage(published.Offset, published.Frame, published.AtMs));
        if (published.IdempotencyKey is { } key) _keys.Add(key, published.Offset, published.AtMs);
        _eventsSinceSnapshot++;
    }

    /// <summary>Deletes the events and snapshots a saved snapshot replaced, one clean-up at a time, up to the newest snapshot.</summary>
    private void CleanUp()
    {
        if (_deleting || _deleteUpTo <= _deletedUpTo) return;
        _deleting = true;
        DeleteMessages(_deleteUpTo);
    }

    /// <summary>The journal's id of a room: stable, so every incarnation on any node reads the same stream.</summary>
    public static string PersistenceIdOf(string roomId) => "room-" + roomId;

    public static Props Props(string roomId, RoomSettings settings, long nowMs) =>
        Akka.Actor.Props.Create(() => new RoomJournal(roomId, settings, nowMs));

    protected override void OnRecoveryFailure(Exception reason, object? message = null)
    {
        Context.Parent.Tell(new Failed(Describe(reason)));
        base.OnRecoveryFailure(reason, message);
    }

    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        Context.Parent.Tell(new Failed(Describe(cause)));
        base.OnPersistFailure(cause, @event, sequenceNr);
    }

    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        // A rejected write is not retried, and the room waits for its writes in order: stop, so the
        // room refuses what is outstanding and starts again from what the journal has.
        Context.Parent.Tell(new Failed(Describe(cause)));
        base.OnPersistRejected(cause, @event, sequenceNr);
        Context.Stop(Self);
    }

    private void Keep(RoomSnapshotMessage message)
    {
        if (_settings.HistoryTtl > TimeSpan.Zero && message.AtMs > 0 && _nowMs - message.AtMs >= (long)_settings.HistoryTtl.TotalMilliseconds) return;
        _history.Enqueue(message);
        while (_history.Count > Math.Max(0, _settings.HistorySize)) _history.Dequeue();
    }

    /// <summary>The failure in one line for the room, the logs and <c>/health/ready</c> (no connection strings: providers leave them out).</summary>
    private static string Describe(Exception e) => $"{e.GetBaseException().GetType().Name}: {e.GetBaseException().Message}";

    /// <summary>Journal → room: what the journal holds. <paramref name="Epoch"/> is null for a room never written; <paramref name="EventsSinceSnapshot"/> counts messages.</summary>
    public sealed record Recovered(string? Epoch, long Offset, RoomSnapshotMessage[] History, RoomSnapshotKey[] Keys, long SequenceNr, long EventsSinceSnapshot);

    /// <summary>Room → journal: write this event.</summary>
    public sealed record Append(IRoomJournalEvent Event);

    /// <summary>Journal → room: the oldest <paramref name="Writes"/> outstanding writes are done, in one event at <paramref name="SequenceNr"/>.</summary>
    public sealed record Appended(long SequenceNr, int Writes = 1);

    /// <summary>Room → journal: save this snapshot as of <paramref name="SequenceNr"/>, then drop what it replaces.</summary>
    public sealed record SaveRoomSnapshot(RoomSnapshot Snapshot, long SequenceNr);

    /// <summary>Journal → room, just before it stops: why.</summary>
    public sealed record Failed(string Reason);
}
