using Broker.Contracts.Protocol;

namespace Broker.Actors.Connections;

/// <summary>
/// The socket side of a connection, as its actor sees it. <see cref="WebSocketTransport"/> is the
/// real one; tests plug in their own to drive a <see cref="ConnectionActor"/> without sockets.
/// </summary>
public interface IConnectionTransport
{
    /// <summary>
    /// Starts reading. Inbound frames go to <paramref name="connection"/> under the
    /// <see cref="InboundStream"/> protocol (one frame per ack).
    /// </summary>
    void Start(Akka.Actor.IActorRef connection);

    /// <summary>Queues one UTF-8 text frame. False when the outbound queue is full (slow consumer).</summary>
    bool TrySend(byte[] utf8Frame);

    /// <summary>
    /// Closes the socket with <paramref name="close"/>'s code and reason. Queued frames are flushed first unless
    /// <paramref name="discardQueued"/> (a slow consumer gets the close, not the backlog).
    /// Idempotent: only the first close counts.
    /// </summary>
    void Close(Close close, bool discardQueued = false);
}
