namespace Broker.Actors.Connections;

/// <summary>What the transport read from the client, already checked against the size and rate limits.</summary>
public enum InboundKind
{
    /// <summary>A complete, valid UTF-8 text message in <see cref="InboundFrame.Utf8"/>.</summary>
    Text,
    /// <summary>A binary message (the protocol is text only).</summary>
    Binary,
    /// <summary>A text message dropped by the rate limiter; <see cref="InboundFrame.Utf8"/> is kept to echo its id.</summary>
    RateLimited,
    /// <summary>The client keeps flooding: close 1008.</summary>
    Flooding,
    /// <summary>A message over the size limit; reading stopped while it was being assembled.</summary>
    TooBig,
    /// <summary>A text message that is not valid UTF-8.</summary>
    InvalidUtf8,
}

/// <summary>One inbound event from the transport to its <see cref="ConnectionActor"/>.</summary>
public sealed record InboundFrame(InboundKind Kind, byte[]? Utf8 = null)
{
    public static readonly InboundFrame Binary = new(InboundKind.Binary);
    public static readonly InboundFrame TooBig = new(InboundKind.TooBig);
    public static readonly InboundFrame InvalidUtf8 = new(InboundKind.InvalidUtf8);
    public static readonly InboundFrame Flooding = new(InboundKind.Flooding);
    public static InboundFrame Text(byte[] utf8) => new(InboundKind.Text, utf8);
}

/// <summary>The ack protocol between the transport's read loop and the actor: one frame per ack.</summary>
public static class InboundStream
{
    /// <summary>The stream is ready; the actor acks it to receive the first frame.</summary>
    public sealed class Started { public static readonly Started Instance = new(); private Started() { } }
    /// <summary>The actor's ack: send the next frame. Withheld while the actor is busy (backpressure).</summary>
    public sealed class Ack { public static readonly Ack Instance = new(); private Ack() { } }
    /// <summary>The client closed the socket, the connection dropped, or reading failed.</summary>
    public sealed class Completed { public static readonly Completed Instance = new(); private Completed() { } }
}
