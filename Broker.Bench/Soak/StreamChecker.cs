namespace Broker.Bench.Soak;

/// <summary>What one frame meant to a member's view of a room (PROTOCOL §4, §9.1).</summary>
public enum StreamVerdict
{
    /// <summary>The next offset, or a join that lines up with what was delivered.</summary>
    InOrder,
    /// <summary>The first frame of a stream: nothing to compare with yet.</summary>
    Started,
    /// <summary>A message of a new epoch at offset 1 (the §9.1 resync), or a join into a new epoch.</summary>
    EpochChanged,
    /// <summary>Offsets skipped after a <c>joined</c> with <c>recovered:false</c>: allowed, the member was told.</summary>
    AnnouncedGap,
    /// <summary>Offsets skipped without being told (also: <c>recovered:true</c> but the missed messages never came).</summary>
    SilentGap,
    /// <summary>An offset already delivered in that epoch, an older epoch again, or a join behind the cursor.</summary>
    Duplicate,
    /// <summary>An offset below the cursor that had not been delivered yet: it came late, out of order.</summary>
    Reordered,
    /// <summary>
    /// Offsets skipped while a join is unanswered: the replay of a <c>join … since</c> comes before
    /// its <c>joined</c> (§3), whose <c>recovered</c> then says whether the skip was announced.
    /// </summary>
    GapBeforeJoined,
}

/// <summary>
/// One member's view of one room, judged frame by frame with no knowledge of timing: within an
/// epoch the offsets must be consecutive unless a <c>joined</c> with <c>recovered:false</c> came
/// first (or, for the replay of a <c>join … since</c>, which §3 sends before its answer: the
/// answer says <c>recovered:false</c>); after a <c>joined</c> the next offset must follow its offset. It also keeps, per epoch,
/// what was delivered and which offsets the member was excused from (it was told it missed them),
/// so the end of the soak can ask: did every acked publish reach a member that stayed joined?
/// Not thread-safe: one connection's receive loop drives it (callers lock for reads from elsewhere).
/// </summary>
public sealed class StreamChecker
{
    private readonly Dictionary<string, EpochStream> _epochs = new(StringComparer.Ordinal);
    private EpochStream? _current;
    private int _pendingJoins;
    private long _heldGaps;
    private long _heldMissed;

    /// <summary>The epoch of the last frame, null before the first <c>joined</c>.</summary>
    public string? Epoch => _current?.Epoch;
    /// <summary>The last offset delivered (or announced by a <c>joined</c>) in <see cref="Epoch"/>: the <c>since</c> of a re-join.</summary>
    public long Cursor => _current?.Cursor ?? 0;

    public long Delivered { get; private set; }
    public long SilentGaps { get; private set; }
    public long SilentlyMissed { get; private set; }
    public long Duplicates { get; private set; }
    public long Reordered { get; private set; }
    public long AnnouncedGaps { get; private set; }
    public long AnnouncedMissed { get; private set; }
    public long EpochChanges { get; private set; }
    /// <summary>Epochs entered by a message with no <c>joined</c> <c>recovered:false</c> for them yet (§9.1 says one follows).</summary>
    public int UnannouncedEpochs
    {
        get
        {
            var n = 0;
            foreach (var stream in _epochs.Values) if (stream.AwaitingAnnouncement) n++;
            return n;
        }
    }

    /// <summary>A join for this room was sent: until its answer, a skip may belong to its replay.</summary>
    public void OnJoinSent() => _pendingJoins++;

    /// <summary>A join was answered with an error (say <c>unavailable</c>): no <c>joined</c> will come for it.</summary>
    public void OnJoinRefused()
    {
        if (_pendingJoins > 0) _pendingJoins--;
        if (_pendingJoins == 0) Resolve(announced: false);
    }

    /// <summary>The connection ended: no answer will come for its joins, so skips held for them were silent.</summary>
    public void OnDisconnected()
    {
        if (_current is not null) _current.DisconnectedSinceEntered = true;
        _pendingJoins = 0;
        Resolve(announced: false);
    }

    /// <summary>A <c>message</c> frame for this room.</summary>
    public StreamVerdict OnMessage(string epoch, long offset)
    {
        if (_current is null || _current.Epoch != epoch)
        {
            if (_epochs.ContainsKey(epoch)) return Duplicate(); // an epoch left behind came back
            var fresh = _current is null;
            Enter(epoch, cursor: 0, excusedUpTo: 0, awaitingAnnouncement: !fresh);
            if (!fresh) EpochChanges++;
            // Without a joined first there is nothing to excuse: a new epoch's stream starts at 1.
            if (offset != 1) return SilentGap(offset - 1, offset);
            Deliver(offset);
            return fresh ? StreamVerdict.Started : StreamVerdict.EpochChanged;
        }
        if (offset <= _current.Cursor)
        {
            if (!_current.Received.Add(offset)) return Duplicate();
            Delivered++;
            Reordered++;
            return StreamVerdict.Reordered;
        }
        if (offset == _current.Cursor + 1)
        {
            Deliver(offset);
            return StreamVerdict.InOrder;
        }
        return SilentGap(offset - _current.Cursor - 1, offset);
    }

    /// <summary>
    /// A <c>joined</c> for this room, answering a join (with <c>id</c>) or sent by the server (§9.1,
    /// without). <paramref name="sinceOffset"/> is the <c>since</c> offset the join asked from (in
    /// this epoch); null for a <c>joined</c> without id, which answers "since the cursor".
    /// </summary>
    public StreamVerdict OnJoined(string epoch, long offset, bool recovered, long? sinceOffset = null, bool answersJoin = false)
    {
        if (answersJoin && _pendingJoins > 0)
        {
            _pendingJoins--;
            Resolve(announced: !recovered);
        }
        // The §9.1 joined without id may have been lost with the connection; the re-join's answer
        // in that epoch takes its place.
        if (answersJoin && _current is { AwaitingAnnouncement: true, DisconnectedSinceEntered: true } && _current.Epoch == epoch)
            _current.AwaitingAnnouncement = false;
        if (_current is null)
        {
            // The first join of this member: everything before it is none of its business.
            Enter(epoch, cursor: offset, excusedUpTo: offset, awaitingAnnouncement: false);
            return StreamVerdict.Started;
        }
        if (_current.Epoch != epoch)
        {
            if (_epochs.ContainsKey(epoch)) return Duplicate();
            EpochChanges++;
            Enter(epoch, cursor: offset, excusedUpTo: recovered ? 0 : offset, awaitingAnnouncement: false);
            if (recovered && offset > 0)
            {
                // "Recovered" across an epoch change, yet not one message of the new epoch came.
                SilentGaps++;
                SilentlyMissed += offset;
                return StreamVerdict.SilentGap;
            }
            if (offset > 0) { AnnouncedGaps++; AnnouncedMissed += offset; return StreamVerdict.AnnouncedGap; }
            return StreamVerdict.EpochChanged;
        }
        if (!recovered)
        {
            _current.AwaitingAnnouncement = false;
            // Told: whatever after the join's since it has not received is lost (history did not reach back).
            if (sinceOffset is { } since && since < _current.Cursor) _current.Excuse(since + 1, Math.Min(offset, _current.Cursor));
        }
        if (offset < _current.Cursor) return Duplicate(); // the room says it is behind what we were given
        if (offset == _current.Cursor) return StreamVerdict.InOrder;
        var missed = offset - _current.Cursor;
        if (!recovered) _current.Excuse(_current.Cursor + 1, offset);
        _current.Cursor = offset;
        if (recovered)
        {
            SilentGaps++;
            SilentlyMissed += missed;
            return StreamVerdict.SilentGap;
        }
        AnnouncedGaps++;
        AnnouncedMissed += missed;
        return StreamVerdict.AnnouncedGap;
    }

    /// <summary>
    /// Acked offsets of <paramref name="epoch"/> this member neither received nor was excused from.
    /// A member whose stream never reached that epoch missed all of them (it stayed joined in an
    /// older one: nobody told it).
    /// </summary>
    public long CountMissing(string epoch, IEnumerable<long> ackedOffsets)
    {
        _epochs.TryGetValue(epoch, out var stream);
        long missing = 0;
        foreach (var offset in ackedOffsets)
            if (stream is null || !stream.Covers(offset)) missing++;
        return missing;
    }

    private void Enter(string epoch, long cursor, long excusedUpTo, bool awaitingAnnouncement)
    {
        _current = new EpochStream(epoch) { Cursor = cursor, AwaitingAnnouncement = awaitingAnnouncement };
        _current.Excuse(1, excusedUpTo);
        _epochs[epoch] = _current;
    }

    private void Deliver(long offset)
    {
        _current!.Cursor = offset;
        _current.Received.Add(offset);
        Delivered++;
    }

    private StreamVerdict SilentGap(long missed, long offset)
    {
        Deliver(offset);
        if (_pendingJoins > 0)
        {
            _heldGaps++;
            _heldMissed += missed;
            return StreamVerdict.GapBeforeJoined;
        }
        SilentGaps++;
        SilentlyMissed += missed;
        return StreamVerdict.SilentGap;
    }

    /// <summary>Skips held for an unanswered join become announced (its answer said <c>recovered:false</c>) or silent.</summary>
    private void Resolve(bool announced)
    {
        if (_heldGaps == 0) return;
        if (announced) { AnnouncedGaps += _heldGaps; AnnouncedMissed += _heldMissed; }
        else { SilentGaps += _heldGaps; SilentlyMissed += _heldMissed; }
        _heldGaps = 0;
        _heldMissed = 0;
    }

    private StreamVerdict Duplicate()
    {
        Duplicates++;
        return StreamVerdict.Duplicate;
    }

    /// <summary>One epoch as this member saw it.</summary>
    private sealed class EpochStream(string epoch)
    {
        private readonly List<(long From, long To)> _excused = new();

        public string Epoch { get; } = epoch;
        public long Cursor { get; set; }
        public HashSet<long> Received { get; } = new();
        public bool AwaitingAnnouncement { get; set; }
        public bool DisconnectedSinceEntered { get; set; }

        /// <summary>The member was told it missed <paramref name="from"/>..<paramref name="to"/>.</summary>
        public void Excuse(long from, long to)
        {
            if (to >= from) _excused.Add((from, to));
        }

        public bool Covers(long offset)
        {
            if (Received.Contains(offset)) return true;
            foreach (var (from, to) in _excused) if (offset >= from && offset <= to) return true;
            return false;
        }
    }
}
