namespace Broker.Actors.Connections;

/// <summary>What a heartbeat tick means for one connection.</summary>
public enum HeartbeatVerdict
{
    /// <summary>Nothing to do: not authenticated yet, already over, or the tick came too soon after the last ping.</summary>
    None,
    /// <summary>Send <c>ping</c> now.</summary>
    Ping,
    /// <summary>No frame since the last ping: terminate (PROTOCOL §5).</summary>
    Silent,
}

/// <summary>
/// The heartbeat rule of one connection (PROTOCOL §5) as plain state, shared by the connection's
/// actor, which reports signs of life, and the supervisor's tick, which walks every connection of the
/// node and pings it itself: a ping costs no actor message, no mailbox run and no dispatch per
/// connection (docs/benchmarks.md, "Heartbeat"). Safe for one ticking thread and one reporting
/// thread at a time: the flags change by compare-and-swap.
/// </summary>
public sealed class ConnectionHeartbeat
{
    private const int Armed = 1; // authenticated and welcome queued: pings may go out (nothing precedes welcome, §3)
    private const int AwaitingLife = 2; // a ping went out and no frame came in since
    private const int Held = 4; // an async step holds the inbound ack: the client's frames wait unread, silence proves nothing
    private const int Over = 8; // closing, or found silent: no more pings

    private int _flags;
    private long _pingedAt; // the scheduler's UtcTicks when the last ping went out; written by the ticking thread only

    /// <summary>Authenticated and welcome queued: from the next tick on, the connection is pinged.</summary>
    public void Arm() => Set(Armed);

    /// <summary>A frame came in (any frame counts).</summary>
    public void SignOfLife()
    {
        // Read first: one interlocked write per ping answered, not per frame.
        if ((Volatile.Read(ref _flags) & AwaitingLife) != 0) Clear(AwaitingLife);
    }

    /// <summary>An async step holds (true) or released (false) the inbound ack.</summary>
    public void Hold(bool held)
    {
        if (held) Set(Held);
        else Clear(Held);
    }

    /// <summary>The connection is closing: no tick pings or judges it any more.</summary>
    public void End() => Set(Over);

    /// <summary>True once the connection authenticated and until it ends.</summary>
    public bool IsArmed => (Volatile.Read(ref _flags) & (Armed | Over)) == Armed;

    /// <summary>
    /// One tick at <paramref name="nowTicks"/>. Pings a connection that answered (or was never pinged),
    /// finds silent one that did not, and ignores a tick that came less than half an interval after
    /// the ping: ticks queue up while the node is stalled, and the one right behind the tick that
    /// pinged is no new interval (the client had no time to answer). A clock that went backwards does
    /// not save a silent client. <see cref="HeartbeatVerdict.Silent"/> ends the heartbeat.
    /// </summary>
    public HeartbeatVerdict Tick(long nowTicks, long intervalTicks)
    {
        while (true)
        {
            var flags = Volatile.Read(ref _flags);
            if ((flags & (Armed | Over)) != Armed) return HeartbeatVerdict.None;
            if ((flags & (AwaitingLife | Held)) == AwaitingLife)
            {
                var sincePing = nowTicks - _pingedAt;
                if (sincePing >= 0 && sincePing < intervalTicks / 2) return HeartbeatVerdict.None;
                if (Interlocked.CompareExchange(ref _flags, flags | Over, flags) != flags) continue; // a frame just came in
                return HeartbeatVerdict.Silent;
            }
            if (Interlocked.CompareExchange(ref _flags, flags | AwaitingLife, flags) != flags) continue;
            _pingedAt = nowTicks;
            return HeartbeatVerdict.Ping;
        }
    }

    private void Set(int flag)
    {
        int flags;
        do flags = Volatile.Read(ref _flags);
        while (Interlocked.CompareExchange(ref _flags, flags | flag, flags) != flags);
    }

    private void Clear(int flag)
    {
        int flags;
        do flags = Volatile.Read(ref _flags);
        while (Interlocked.CompareExchange(ref _flags, flags & ~flag, flags) != flags);
    }
}
