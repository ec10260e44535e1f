namespace Broker.Actors.Connections;

/// <summary>
/// A socket's outbound queue: bounded by frames (and optionally bytes), safe for any number of
/// concurrent writers (the connection actor, the room hub's workers, the heartbeat), drained by one
/// reader at a time. It replaces a bounded <c>Channel</c> per socket, which held a deque, a reader,
/// a writer, four async operations and a completion task whether or not anything was ever queued
/// (docs/benchmarks.md, "Idle memory"). Here an idle socket holds this object only: the ring is
/// allocated by the first frame and dropped again when a backlog that grew it is drained, and there
/// is no waiting reader: the writer that finds the queue idle is told to start a drain
/// (<see cref="Enqueued.StartDrain"/>), and the drain that finds it empty ends, so a wake-up costs one
/// thread-pool item, as a channel's waiting reader does.
/// </summary>
public sealed class OutboundFrames
{
    /// <summary>What <see cref="TryEnqueue"/> did with a frame.</summary>
    public enum Enqueued
    {
        /// <summary>Full (or completed): a slow consumer, or a socket that is closing.</summary>
        Refused,
        /// <summary>Queued behind others; the running drain will take it.</summary>
        Queued,
        /// <summary>Queued on an idle queue: the caller must start a drain.</summary>
        StartDrain,
    }

    private const int FirstRing = 4; // a ping, a reply and a message or two: the common backlog of a quiet socket
    private const int KeptRing = 16; // a ring this small survives a drain; a bigger one (a burst's) is dropped

    private readonly int _maxFrames;
    private readonly long _maxBytes;
    private byte[][]? _ring;
    private int _head;
    private int _count;
    private long _bytes;
    private bool _draining; // one drain at a time: set by the writer told to start it, cleared by the drain that found nothing
    private bool _completed;

    /// <param name="maxFrames">Frames the queue holds (<c>Broker:Limits:OutboundQueue</c>).</param>
    /// <param name="maxBytes">Bytes the queue holds, 0 for no byte bound (<c>Broker:Limits:OutboundQueueBytes</c>).</param>
    public OutboundFrames(int maxFrames, long maxBytes = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxFrames, 1);
        _maxFrames = maxFrames;
        _maxBytes = maxBytes;
    }

    /// <summary>Frames queued now.</summary>
    public int Count { get { lock (this) return _count; } }

    /// <summary>
    /// Queues a frame unless the queue is full or completed. A frame is never refused by bytes when the
    /// queue is empty, so no frame is too big for a reader that keeps up.
    /// </summary>
    public Enqueued TryEnqueue(byte[] frame)
    {
        // Locking the queue itself: a thin lock in the object header, no lock object per socket.
        lock (this)
        {
            if (_completed || _count == _maxFrames) return Enqueued.Refused;
            if (_maxBytes > 0 && _count > 0 && _bytes + frame.Length > _maxBytes) return Enqueued.Refused;
            var ring = _ring ??= new byte[Math.Min(FirstRing, _maxFrames)][];
            if (_count == ring.Length) ring = Grow(ring);
            ring[(_head + _count) % ring.Length] = frame;
            _count++;
            _bytes += frame.Length;
            if (_draining) return Enqueued.Queued;
            _draining = true;
            return Enqueued.StartDrain;
        }
    }

    /// <summary>The drain's next frame, if one is queued. Never ends the drain: see <see cref="TryEndDrain"/>.</summary>
    public bool TryTake(out byte[] frame)
    {
        lock (this)
        {
            if (_count == 0)
            {
                frame = null!;
                return false;
            }
            var ring = _ring!;
            frame = ring[_head];
            ring[_head] = null!;
            _head = (_head + 1) % ring.Length;
            _count--;
            _bytes -= frame.Length;
            if (_count == 0)
            {
                _head = 0;
                if (ring.Length > KeptRing) _ring = null; // a burst's ring: an idle socket should not keep it
            }
            return true;
        }
    }

    /// <summary>
    /// Ends the drain if nothing is queued (true; a later frame starts another), or tells the drain to
    /// go on (false: a frame came in since its last take). <paramref name="completed"/> says whether
    /// the queue is completed: then nothing will ever come again and no drain will start after this one.
    /// </summary>
    public bool TryEndDrain(out bool completed)
    {
        lock (this)
        {
            completed = _completed;
            if (_count > 0) return false;
            if (!_completed) _draining = false;
            return true;
        }
    }

    /// <summary>True when a frame is queued behind the one just taken (the drain batches them).</summary>
    public bool HasMore { get { lock (this) return _count > 0; } }

    /// <summary>
    /// No frame is accepted any more. True when no drain is running, so the caller must start one to
    /// flush (or discard) what is queued and learn that the queue is over.
    /// </summary>
    public bool Complete()
    {
        lock (this)
        {
            if (_completed) return false;
            _completed = true;
            if (_draining) return false;
            _draining = true;
            return true;
        }
    }

    private byte[][] Grow(byte[][] ring)
    {
        var bigger = new byte[Math.Min(ring.Length * 2, _maxFrames)][];
        for (var i = 0; i < _count; i++) bigger[i] = ring[(_head + i) % ring.Length];
        _head = 0;
        return _ring = bigger;
    }
}
