namespace Broker.Actors.Connections;

/// <summary>
/// The byte bound of a connection's outbound queue (<c>Broker:Limits:OutboundQueueBytes</c>), shared
/// by every transport: a frame reserves its bytes before it is queued and gives them back when it
/// is taken or refused. A frame alone in the queue is never refused by bytes (a large message still
/// goes to a reader that keeps up); the frame count bounds the queue too. A bound of 0
/// means no byte bound. Lock-free: the hub, fan-out lanes and the connection's actor all queue.
/// </summary>
public static class OutboundByteBudget
{
    /// <summary>Reserves <paramref name="length"/> bytes; false when the queue holds <paramref name="max"/> already.</summary>
    public static bool TryReserve(ref long queued, long max, int length)
    {
        if (max <= 0) return true;
        var now = Interlocked.Add(ref queued, length);
        if (now <= max || now == length) return true;
        Interlocked.Add(ref queued, -length);
        return false;
    }

    /// <summary>Gives back the bytes of a frame taken from the queue, or refused after its reservation.</summary>
    public static void Release(ref long queued, long max, int length)
    {
        if (max > 0) Interlocked.Add(ref queued, -length);
    }
}
