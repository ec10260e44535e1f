using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace Broker.Bench.Load;

/// <summary>
/// One member of the big-room scenario, as its frames arrive. It counts every frame and byte it
/// receives apart from its own <c>joined</c> (pings are answered before they reach a sink),
/// recognises that <c>joined</c> and keeps what the scenario checks in it (<c>count</c>, the
/// <c>members</c> list), follows the room's size through <c>presence</c> and <c>occupancy</c>
/// frames (PROTOCOL §9.3), and checks the broadcast: one publisher's sequences 1, 2, 3, … with
/// no gap, step back or repeat. Plain logic (no socket, no sink interface), so the tests drive it
/// with strings; the scenario feeds it from a lean client's receive loop, one thread at a time.
/// </summary>
public sealed class BigRoomMember
{
    private static ReadOnlySpan<byte> JoinedPrefix => "{\"type\":\"joined\""u8;
    private static ReadOnlySpan<byte> OccupancyPrefix => "{\"type\":\"occupancy\""u8;
    private static ReadOnlySpan<byte> PresencePrefix => "{\"type\":\"presence\""u8;
    private static ReadOnlySpan<byte> MessagePrefix => "{\"type\":\"message\""u8;
    private static ReadOnlySpan<byte> ErrorPrefix => "{\"type\":\"error\""u8;

    private readonly string _room;
    private readonly Action<string> _fail;
    // The users this member knows are in the room, kept only when its joined listed them (full
    // mode): a presence frame held back by the room's throttle may announce a user the list had.
    private HashSet<string>? _users;
    private long _frames;
    private long _bytes;
    private long _presence;
    private long _occupancy;
    private long _next = 1;
    private long _joinedAt;
    private int _count = -1;

    /// <param name="fail">Where a correctness failure goes (a loss, a reorder, an error frame, a second joined).</param>
    public BigRoomMember(int id, string room, Action<string> fail)
    {
        Id = id;
        _room = room;
        _fail = fail;
    }

    public int Id { get; }

    /// <summary>Called on the receiving thread when this member's own <c>joined</c> arrives.</summary>
    public Action<BigRoomMember>? Joined { get; set; }

    /// <summary>Called on the receiving thread for each broadcast message in order, with its intended send time and now (Stopwatch ticks).</summary>
    public Action<long, long>? Delivered { get; set; }

    /// <summary>Stopwatch timestamp the scenario sent this member's join at.</summary>
    public long JoinSentAt { get; set; }

    /// <summary>Stopwatch timestamp its own <c>joined</c> arrived at; 0 before.</summary>
    public long JoinedAt => Volatile.Read(ref _joinedAt);

    /// <summary>Bytes of its own <c>joined</c> (it grows with the room in full mode).</summary>
    public int JoinedBytes { get; private set; }

    /// <summary>The <c>count</c> its <c>joined</c> carried; null when it had none.</summary>
    public int? JoinedCount { get; private set; }

    /// <summary>How many names its <c>joined</c> listed in <c>members</c>; null when it had no list.</summary>
    public int? JoinedMembers { get; private set; }

    /// <summary>Frames received other than its own <c>joined</c> and pings.</summary>
    public long Frames => Volatile.Read(ref _frames);

    /// <summary>Bytes (the frames' JSON text) of <see cref="Frames"/>.</summary>
    public long Bytes => Volatile.Read(ref _bytes);

    public long PresenceFrames => Volatile.Read(ref _presence);
    public long OccupancyFrames => Volatile.Read(ref _occupancy);

    /// <summary>The room's size as this member last learnt it; -1 before anything said.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>The next broadcast sequence number it expects.</summary>
    public long Next => Volatile.Read(ref _next);

    /// <summary>One frame the member received (never a ping).</summary>
    public void OnRecord(ReadOnlySpan<byte> record)
    {
        var now = Stopwatch.GetTimestamp();
        if (record.StartsWith(JoinedPrefix) && IsOwnJoined(record))
        {
            OnOwnJoined(record, now);
            return;
        }
        Volatile.Write(ref _frames, _frames + 1);
        Volatile.Write(ref _bytes, _bytes + record.Length);
        if (record.StartsWith(MessagePrefix)) OnMessage(record, now);
        else if (record.StartsWith(OccupancyPrefix)) OnOccupancy(record);
        else if (record.StartsWith(PresencePrefix)) OnPresence(record);
        else if (record.StartsWith(ErrorPrefix)) _fail($"member {Id}: server error {Encoding.UTF8.GetString(record)}");
        else if (record.StartsWith(JoinedPrefix)) _fail($"member {Id}: a joined without id (the room lost its history?): {Shorten(record)}");
    }

    /// <summary>The answer to the scenario's join, which carries <c>"id":"j"</c> (the lean client's join frame).</summary>
    private static bool IsOwnJoined(ReadOnlySpan<byte> record) => record[JoinedPrefix.Length..].StartsWith(",\"id\":\"j\""u8);

    private void OnOwnJoined(ReadOnlySpan<byte> record, long now)
    {
        if (JoinedAt != 0)
        {
            _fail($"member {Id}: a second joined");
            return;
        }
        JoinedBytes = record.Length;
        using (var document = JsonDocument.Parse(record.ToArray()))
        {
            if (!document.RootElement.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Object)
            {
                _fail($"member {Id}: joined without data: {Shorten(record)}");
                return;
            }
            if (!data.TryGetProperty("room", out var room) || room.GetString() != _room)
                _fail($"member {Id}: joined for another room: {Shorten(record)}");
            if (data.TryGetProperty("count", out var count) && count.TryGetInt32(out var n)) JoinedCount = n;
            if (data.TryGetProperty("members", out var members) && members.ValueKind == JsonValueKind.Array)
            {
                JoinedMembers = members.GetArrayLength();
                _users = new HashSet<string>(StringComparer.Ordinal);
                foreach (var member in members.EnumerateArray())
                    if (member.GetString() is { } user) _users.Add(user);
            }
        }
        Volatile.Write(ref _count, JoinedCount ?? _users?.Count ?? -1);
        Volatile.Write(ref _joinedAt, now);
        Joined?.Invoke(this);
    }

    private void OnOccupancy(ReadOnlySpan<byte> record)
    {
        Volatile.Write(ref _occupancy, _occupancy + 1);
        using var document = JsonDocument.Parse(record.ToArray());
        if (document.RootElement.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Object
            && data.TryGetProperty("count", out var count) && count.TryGetInt32(out var n))
            Volatile.Write(ref _count, n);
        else _fail($"member {Id}: occupancy without a count: {Shorten(record)}");
    }

    private void OnPresence(ReadOnlySpan<byte> record)
    {
        Volatile.Write(ref _presence, _presence + 1);
        using var document = JsonDocument.Parse(record.ToArray());
        if (!document.RootElement.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Object
            || !data.TryGetProperty("event", out var change) || !data.TryGetProperty("user", out var userElement)
            || userElement.GetString() is not { } user)
        {
            _fail($"member {Id}: presence without event or user: {Shorten(record)}");
            return;
        }
        var joined = change.GetString() == "join";
        // With the member list: a set, so an announcement of someone already counted changes nothing.
        var changed = _users is null || (joined ? _users.Add(user) : _users.Remove(user));
        if (changed && _count >= 0) Volatile.Write(ref _count, _count + (joined ? 1 : -1));
    }

    private void OnMessage(ReadOnlySpan<byte> record, long now)
    {
        if (!Payload.TryRead(record, out var publisher, out var sequence, out var stamp))
        {
            _fail($"member {Id}: a message without the bench payload: {Shorten(record)}");
            return;
        }
        if (publisher != 0)
        {
            _fail($"member {Id}: a message from unknown publisher {publisher}");
            return;
        }
        var expected = _next;
        if (sequence != expected)
            _fail($"member {Id}: expected #{expected}, got #{sequence} ({(sequence > expected ? "lost" : "reordered or duplicated")})");
        Volatile.Write(ref _next, sequence + 1);
        Delivered?.Invoke(stamp, now);
    }

    private static string Shorten(ReadOnlySpan<byte> record) =>
        Encoding.UTF8.GetString(record.Length > 200 ? record[..200] : record) + (record.Length > 200 ? "…" : "");
}
