using System.Text;

namespace Broker.Client.Internal;

/// <summary>Where the client stands in one room's stream: the last offset delivered, in which epoch.</summary>
internal sealed class RoomCursor(string room)
{
    public string Room { get; } = room;

    /// <summary>The epoch of <see cref="Offset"/>; null until the first <c>joined</c> or message.</summary>
    public string? Epoch { get; private set; }

    /// <summary><see cref="Epoch"/> as UTF-8, to compare with inbound frames without a string.</summary>
    public byte[]? EpochUtf8 { get; private set; }

    /// <summary>
    /// The epoch before <see cref="Epoch"/> (UTF-8), whose history the room lost: a late message of
    /// it is stale, and accepting it would move the cursor back and make a rejoin replay twice.
    /// </summary>
    public byte[]? RetiredEpochUtf8 { get; private set; }

    /// <summary>The last offset delivered (or the room's offset at <c>joined</c>).</summary>
    public long Offset { get; set; }

    /// <summary>True once a <c>joined</c> arrived; false while the first join is in flight.</summary>
    public bool Joined { get; set; }

    /// <summary>The epoch when the current (re)join was sent, to tell whether <c>joined</c> brings a new one.</summary>
    public string? EpochAtJoin { get; set; }

    /// <summary>Messages delivered since the current (re)join was sent: the replayed ones, on a rejoin.</summary>
    public int Replayed { get; set; }

    public void SetEpoch(string? epoch)
    {
        if (epoch == Epoch) return;
        if (EpochUtf8 is not null) RetiredEpochUtf8 = EpochUtf8;
        Epoch = epoch;
        EpochUtf8 = epoch is null ? null : Encoding.UTF8.GetBytes(epoch);
    }
}

/// <summary>What a <c>joined</c> after a reconnection means for the app.</summary>
internal readonly record struct RejoinOutcome(bool Recovered, bool EpochChanged, int Missed);

/// <summary>
/// The per-room recovery tracker: which rooms to rejoin, the <c>since</c> for each, and duplicate
/// detection (an offset at or below the last one seen in the same epoch is dropped). Not
/// thread-safe; the client guards it with one lock.
/// </summary>
internal sealed class RoomRecovery
{
    private readonly Dictionary<string, RoomCursor> _rooms = new(StringComparer.Ordinal);
    private readonly Dictionary<string, RoomCursor>.AlternateLookup<ReadOnlySpan<char>> _bySpan;

    public RoomRecovery() => _bySpan = _rooms.GetAlternateLookup<ReadOnlySpan<char>>();

    public int Count => _rooms.Count;

    public RoomCursor? Find(string room) => _rooms.GetValueOrDefault(room);

    public RoomCursor? Find(ReadOnlySpan<char> room) => _bySpan.TryGetValue(room, out var cursor) ? cursor : null;

    /// <summary>A join is being sent: track the room (keeping its cursor if already joined) and count replays from here.</summary>
    public RoomCursor BeginJoin(string room)
    {
        if (!_rooms.TryGetValue(room, out var cursor)) _rooms[room] = cursor = new RoomCursor(room);
        cursor.Replayed = 0;
        cursor.EpochAtJoin = cursor.Epoch;
        return cursor;
    }

    /// <summary>A join resuming from a position the app stored: replays after it are delivered, older ones dropped.</summary>
    public RoomCursor BeginJoin(string room, string? sinceEpoch, long sinceOffset)
    {
        var cursor = BeginJoin(room);
        if (sinceEpoch is null) return cursor;
        cursor.SetEpoch(sinceEpoch);
        cursor.Offset = sinceOffset;
        cursor.EpochAtJoin = sinceEpoch;
        return cursor;
    }

    /// <summary>A first join failed: forget the room unless it was joined before.</summary>
    public void JoinFailed(string room)
    {
        if (_rooms.TryGetValue(room, out var cursor) && !cursor.Joined) _rooms.Remove(room);
    }

    /// <summary>The room was left (or the app gave up on it).</summary>
    public bool Remove(string room) => _rooms.Remove(room);

    public void Clear() => _rooms.Clear();

    /// <summary>The rooms to rejoin after a reconnection.</summary>
    public RoomCursor[] Snapshot() => _rooms.Values.ToArray();

    /// <summary>
    /// A <c>message</c> arrived. True to deliver it; false for a duplicate (offset at or below the
    /// last one in the same epoch) or a late one of the epoch the cursor left (<paramref name="retiredEpoch"/>).
    /// Any other epoch restarts the cursor: a resync's or a rejoin's messages of a new epoch, from
    /// offset 1, are new whatever the old offset was.
    /// </summary>
    public static bool Accept(RoomCursor cursor, bool sameEpoch, bool retiredEpoch, string epoch, long offset)
    {
        if (sameEpoch)
        {
            if (offset <= cursor.Offset) return false;
        }
        else
        {
            if (retiredEpoch) return false;
            cursor.SetEpoch(epoch);
        }
        cursor.Offset = offset;
        cursor.Replayed++;
        return true;
    }

    /// <summary>String form of <see cref="Accept(RoomCursor, bool, bool, string, long)"/>.</summary>
    public static bool Accept(RoomCursor cursor, string epoch, long offset)
    {
        var utf8 = Encoding.UTF8.GetBytes(epoch);
        return Accept(cursor, cursor.Epoch == epoch, cursor.RetiredEpochUtf8 is { } retired && retired.AsSpan().SequenceEqual(utf8), epoch, offset);
    }

    /// <summary>
    /// A <c>joined</c> without an id (PROTOCOL §9.1): the room lost its history while the client
    /// stayed a member, and the server delivered the new epoch's messages before it. Moves the
    /// cursor to the new epoch and offset (never backwards within one epoch), so a reconnection
    /// resumes from there. Membership and a rejoin in flight are left as they are.
    /// </summary>
    public static void Resynced(RoomCursor cursor, string epoch, long offset)
    {
        if (cursor.Epoch != epoch)
        {
            cursor.SetEpoch(epoch);
            cursor.Offset = offset;
        }
        else if (offset > cursor.Offset)
        {
            cursor.Offset = offset;
        }
    }

    /// <summary>
    /// A <c>joined</c> arrived: the room's epoch and current offset. Returns what a rejoin recovered:
    /// <paramref name="recovered"/> as the server said, whether the epoch changed since the cursor's,
    /// and how many missed messages were replayed before it.
    /// </summary>
    public static RejoinOutcome Joined(RoomCursor cursor, string epoch, long offset, bool recovered)
    {
        var epochChanged = cursor.EpochAtJoin is not null && cursor.EpochAtJoin != epoch;
        if (cursor.Epoch != epoch)
        {
            cursor.SetEpoch(epoch);
            cursor.Offset = offset;
        }
        else if (offset > cursor.Offset)
        {
            // Messages up to the joined offset are history the app did not get; live ones follow it.
            cursor.Offset = offset;
        }
        var missed = cursor.Replayed;
        cursor.Joined = true;
        cursor.Replayed = 0;
        cursor.EpochAtJoin = cursor.Epoch;
        return new RejoinOutcome(recovered && !epochChanged, epochChanged, missed);
    }
}
