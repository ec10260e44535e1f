using Broker.Client;

namespace Broker.Bench.Load;

/// <summary>
/// Every <c>ack</c> of a run, per room, checked at the end: one epoch per room, offsets
/// 1, 2, 3, … with none skipped or given twice (the rooms are fresh), each publisher's acks in
/// increasing order (it receives them in the order it sent), and as many acks as publishes sent.
/// Thread-safe; publishers record their acks in the order they collect them.
/// </summary>
public sealed class AckLedger
{
    private readonly Dictionary<string, RoomAcks> _rooms = new(StringComparer.Ordinal);

    public void Record(string room, int publisher, PublishAck ack)
    {
        RoomAcks acks;
        lock (_rooms)
            if (!_rooms.TryGetValue(room, out acks!)) _rooms[room] = acks = new RoomAcks();
        lock (acks)
        {
            acks.Offsets.Add(ack.Offset);
            if (ack.Epoch is { } epoch) acks.Epochs.Add(epoch);
            else acks.WithoutEpoch++;
            if (acks.LastByPublisher.TryGetValue(publisher, out var last) && ack.Offset <= last)
                acks.Problems.Add($"publisher {publisher}: ack offset {ack.Offset} after {last}");
            acks.LastByPublisher[publisher] = ack.Offset;
        }
    }

    /// <summary>Acks recorded for <paramref name="room"/>.</summary>
    public long Count(string room)
    {
        RoomAcks? acks;
        lock (_rooms) _rooms.TryGetValue(room, out acks);
        if (acks is null) return 0;
        lock (acks) return acks.Offsets.Count;
    }

    /// <summary>The epoch of <paramref name="room"/>'s acks and the highest offset acked (null epoch before any ack).</summary>
    public (string? Epoch, long Offset) Last(string room)
    {
        RoomAcks? acks;
        lock (_rooms) _rooms.TryGetValue(room, out acks);
        if (acks is null) return (null, 0);
        lock (acks) return (acks.Epochs.FirstOrDefault(), acks.Offsets.Count > 0 ? acks.Offsets.Max() : 0);
    }

    /// <summary>Every room with an ack.</summary>
    public IReadOnlyList<string> Rooms
    {
        get { lock (_rooms) return _rooms.Keys.ToArray(); }
    }

    /// <summary>What is wrong with the acks of <paramref name="room"/>, given <paramref name="published"/> publishes sent to it; empty when all is well.</summary>
    public IReadOnlyList<string> Check(string room, long published)
    {
        var problems = new List<string>();
        RoomAcks? acks;
        lock (_rooms) _rooms.TryGetValue(room, out acks);
        if (acks is null)
        {
            if (published > 0) problems.Add($"room {room}: {published} publishes, no ack");
            return problems;
        }
        lock (acks)
        {
            problems.AddRange(acks.Problems.Take(5).Select(p => $"room {room}: {p}"));
            if (acks.Offsets.Count != published) problems.Add($"room {room}: {published} publishes, {acks.Offsets.Count} acks");
            if (acks.Epochs.Count != 1 || acks.WithoutEpoch > 0)
                problems.Add($"room {room}: acks in {acks.Epochs.Count} epochs ({string.Join(", ", acks.Epochs.Take(3))}), {acks.WithoutEpoch} without one");
            var sorted = acks.Offsets.Order().ToArray();
            for (var i = 0; i < sorted.Length; i++)
            {
                if (sorted[i] == i + 1) continue;
                problems.Add(i > 0 && sorted[i] == sorted[i - 1]
                    ? $"room {room}: offset {sorted[i]} acked twice"
                    : $"room {room}: offsets not consecutive from 1: #{i + 1} is {sorted[i]}");
                break;
            }
        }
        return problems;
    }

    private sealed class RoomAcks
    {
        public readonly List<long> Offsets = new();
        public readonly HashSet<string> Epochs = new(StringComparer.Ordinal);
        public readonly Dictionary<int, long> LastByPublisher = new();
        public readonly List<string> Problems = new();
        public int WithoutEpoch;
    }
}
