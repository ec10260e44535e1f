namespace Broker.Actors.Connections;

/// <summary>
/// A socket's byte stream that can hold writes back and send them together. The write loop corks,
/// sends every frame already queued (each still its own WebSocket message), then uncorks once, so a
/// backlog costs one write and flush instead of one per frame. The host's upgraded stream implements
/// it; a transport without one sends frame by frame.
/// </summary>
public interface ICorkable
{
    /// <summary>From now on, writes are held (up to a bounded buffer, written early past it) until <see cref="UncorkAsync"/>.</summary>
    void Cork();

    /// <summary>
    /// Writes what is held in one write and flush and lets writes pass straight through again.
    /// Returns how many writes to the underlying stream the batch took (early ones included).
    /// </summary>
    ValueTask<int> UncorkAsync();

    /// <summary>
    /// Appends one whole, uncompressed text message (header and payload, as the WebSocket would
    /// frame it) to the held batch without a send through the socket: the socket's per-send lock,
    /// send buffer and second copy are what a batch of 70 frames paid 70 times. False, holding
    /// nothing, when it cannot be done right now: not corked, another write to the stream is under
    /// way, or the frame would not fit the buffer. The caller then sends it through the socket,
    /// which keeps its place in the stream's order either way.
    /// </summary>
    bool TryHoldTextMessage(ReadOnlySpan<byte> utf8Payload);
}
