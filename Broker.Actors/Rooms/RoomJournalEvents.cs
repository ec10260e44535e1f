namespace Broker.Actors.Rooms;

/// <summary>What a durable room writes to its journal and snapshots; serialized by the broker's serializer, never renamed once stored.</summary>
public interface IRoomJournalEvent;

/// <summary>A durable room's first event: the epoch it keeps across passivation, crashes and restarts.</summary>
public sealed record RoomEpochStarted(string Epoch) : IRoomJournalEvent;

/// <summary>
/// An accepted publish: its offset, the <c>message</c> frame every member and every recovery gets,
/// when it was accepted (unix ms, for <c>HistoryTtl</c> and the idempotency window), and its key.
/// </summary>
public sealed record RoomMessagePublished(long Offset, byte[] Frame, long AtMs, string? IdempotencyKey) : IRoomJournalEvent;

/// <summary>
/// Consecutive accepted publishes written as one journal event (one row): the publishes that came
/// while the previous write was in flight. Per message, a row costs the broker more CPU than the
/// message itself (the store's row mapping, SQL building and the provider), so a busy room writes
/// a few rows per second's batches rather than one per publish. Recovered exactly as the single
/// events it replaces, in order.
/// </summary>
public sealed record RoomMessagesPublished(RoomMessagePublished[] Messages) : IRoomJournalEvent;

/// <summary>
/// A durable room's state at a journal position: epoch, offset, the history window and the
/// idempotency keys still in their window. Recovery reads the latest one and the events after it.
/// </summary>
public sealed record RoomSnapshot(string Epoch, long Offset, RoomSnapshotMessage[] History, RoomSnapshotKey[] Keys) : IRoomJournalEvent;

/// <summary>One history message in a <see cref="RoomSnapshot"/>.</summary>
public sealed record RoomSnapshotMessage(long Offset, byte[] Frame, long AtMs);

/// <summary>One remembered idempotency key in a <see cref="RoomSnapshot"/>.</summary>
public sealed record RoomSnapshotKey(string Key, long Offset, long AtMs);
