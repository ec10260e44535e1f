using Broker.Bench.Load;

namespace Broker.Bench.Soak;

/// <summary>
/// What the soak's clients saw, shared by all of them: every ack (room, epoch, offset → the
/// publish's sequence), the content of every delivered offset (two members must see the same
/// publish at the same offset, and one publish must not appear at two offsets), the client-side
/// counters, and publish→delivery latency. Thread-safe.
/// </summary>
public sealed class SoakLedger
{
    private readonly Dictionary<string, RoomRecord> _rooms;

    public SoakLedger(IEnumerable<string> rooms) =>
        _rooms = rooms.ToDictionary(r => r, _ => new RoomRecord(), StringComparer.Ordinal);

    public LatencyRecorder Latency { get; } = new();

    public long Published;
    public long Acked;
    public long LateAcks;
    public long UnknownOutcome;
    public long Unanswered;
    public long UnavailableRetries;
    public long GaveUp;
    public long Forbidden;
    public long RateLimited;
    public long OtherPublishErrors;
    public long PublisherReconnects;
    public long MemberReconnects;
    public long MemberErrors;
    public long JoinRetries;
    public long JoinsUnanswered;
    public long Mismatches;
    public long DoubleApplied;

    private readonly List<string> _samples = new();

    /// <summary>The first distinct error frames seen (by kind), for the report.</summary>
    public IReadOnlyList<string> Samples { get { lock (_samples) return _samples.ToList(); } }

    /// <summary>Keeps an example of an error frame: the first of each code per kind of client.</summary>
    public void Sample(string who, string code, string frame)
    {
        lock (_samples)
        {
            var key = $"{who} {code}:";
            if (_samples.Count < 20 && !_samples.Any(s => s.StartsWith(key, StringComparison.Ordinal))) _samples.Add($"{key} {frame}");
        }
    }

    private readonly List<string> _anomalies = new();

    /// <summary>The first silent gaps and duplicates, described, for the report.</summary>
    public IReadOnlyList<string> Anomalies { get { lock (_anomalies) return _anomalies.ToList(); } }

    public void Anomaly(string description)
    {
        lock (_anomalies) if (_anomalies.Count < 12) _anomalies.Add(description);
    }

    /// <summary>A publish of <paramref name="sequence"/> was acked at (<paramref name="epoch"/>, <paramref name="offset"/>).</summary>
    public void Ack(string room, string epoch, long offset, long sequence)
    {
        Interlocked.Increment(ref Acked);
        var record = _rooms[room];
        lock (record)
        {
            record.Acked[(epoch, offset)] = sequence;
            if (record.LastEpoch != epoch) record.Epochs.Add(epoch);
            record.LastEpoch = epoch;
            Observe(record, epoch, offset, sequence);
        }
    }

    /// <summary>A member received <paramref name="sequence"/> at (<paramref name="epoch"/>, <paramref name="offset"/>).</summary>
    public void Delivered(string room, string epoch, long offset, long sequence)
    {
        var record = _rooms[room];
        lock (record) Observe(record, epoch, offset, sequence);
    }

    /// <summary>The epoch of the room's latest ack and the highest offset acked in it (null before any ack).</summary>
    public (string? Epoch, long Offset, IReadOnlyList<long> AckedOffsets, int Epochs) Final(string room)
    {
        var record = _rooms[room];
        lock (record)
        {
            if (record.LastEpoch is not { } epoch) return (null, 0, [], 0);
            var offsets = record.Acked.Keys.Where(k => k.Epoch == epoch).Select(k => k.Offset).Order().ToList();
            return (epoch, offsets.Count > 0 ? offsets[^1] : 0, offsets, record.Epochs.Count);
        }
    }

    private void Observe(RoomRecord record, string epoch, long offset, long sequence)
    {
        if (record.Content.TryGetValue((epoch, offset), out var seen))
        {
            if (seen != sequence) Interlocked.Increment(ref Mismatches);
        }
        else record.Content[(epoch, offset)] = sequence;
        if (record.Placed.TryGetValue(sequence, out var at))
        {
            if (at != (epoch, offset)) Interlocked.Increment(ref DoubleApplied);
        }
        else record.Placed[sequence] = (epoch, offset);
    }

    private sealed class RoomRecord
    {
        public readonly Dictionary<(string Epoch, long Offset), long> Acked = new();
        /// <summary>Which publish each (epoch, offset) carried, as first seen (ack or delivery).</summary>
        public readonly Dictionary<(string Epoch, long Offset), long> Content = new();
        /// <summary>Where each publish landed: a second place means it was applied twice.</summary>
        public readonly Dictionary<long, (string Epoch, long Offset)> Placed = new();
        public readonly HashSet<string> Epochs = new(StringComparer.Ordinal);
        public string? LastEpoch;
    }
}
