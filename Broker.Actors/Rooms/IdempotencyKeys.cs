namespace Broker.Actors.Rooms;

/// <summary>
/// The publish keys a room has seen within its window (PROTOCOL §9.2), each with the offset it
/// got: a publish that comes again with one of them gets that offset back instead of a second
/// message. Oldest first, so expiry and the count bound only ever drop from the front. A plain
/// class; the room is its only writer.
/// </summary>
public sealed class IdempotencyKeys(TimeSpan window, int max)
{
    private readonly Dictionary<string, long> _offsets = new(StringComparer.Ordinal);
    private readonly Queue<(string Key, long Offset, long AtMs)> _order = new();
    private readonly long _windowMs = (long)window.TotalMilliseconds;

    public int Count => _offsets.Count;

    /// <summary>The offset the publish with <paramref name="key"/> got, when it is still within the window at <paramref name="nowMs"/>.</summary>
    public bool TryGet(string key, long nowMs, out long offset)
    {
        Expire(nowMs);
        return _offsets.TryGetValue(key, out offset);
    }

    /// <summary>Remembers that the publish with <paramref name="key"/>, accepted at <paramref name="atMs"/>, got <paramref name="offset"/>.</summary>
    public void Add(string key, long offset, long atMs)
    {
        if (!_offsets.TryAdd(key, offset)) return;
        _order.Enqueue((key, offset, atMs));
        while (_order.Count > Math.Max(1, max)) Forget();
    }

    /// <summary>Forgets the keys whose window ended by <paramref name="nowMs"/>.</summary>
    public void Expire(long nowMs)
    {
        while (_order.Count > 0 && nowMs - _order.Peek().AtMs >= _windowMs) Forget();
    }

    /// <summary>The keys remembered, oldest first (what a durable room's snapshot holds).</summary>
    public IEnumerable<(string Key, long Offset, long AtMs)> Entries() => _order;

    private void Forget()
    {
        var (key, offset, _) = _order.Dequeue();
        // Only the entry this queue item added: a key is never in the queue twice, but be exact.
        if (_offsets.TryGetValue(key, out var current) && current == offset) _offsets.Remove(key);
    }
}
