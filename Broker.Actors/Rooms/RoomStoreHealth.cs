namespace Broker.Actors.Rooms;

/// <summary>
/// How the node's durable rooms find their journal, shared by the node's rooms (like
/// <see cref="HistoryBudget"/>): the last failure and whether a write or recovery has succeeded
/// since. <c>/health/ready</c> reads it to say what is wrong. Thread-safe: rooms run on any thread.
/// </summary>
public sealed class RoomStoreHealth
{
    private readonly object _gate = new();
    private string? _failure;
    private string? _failedRoom;
    private DateTimeOffset _failedAt;

    /// <summary>Null while the journal answers; else the last failure, the room that saw it, and when.</summary>
    public (string Reason, string RoomId, DateTimeOffset At)? Failure
    {
        get { lock (_gate) return _failure is null ? null : (_failure, _failedRoom!, _failedAt); }
    }

    public void Failed(string roomId, string reason)
    {
        lock (_gate)
        {
            _failure = reason;
            _failedRoom = roomId;
            _failedAt = DateTimeOffset.UtcNow;
        }
    }

    /// <summary>A recovery or write succeeded: the journal answers again.</summary>
    public void Succeeded()
    {
        if (Volatile.Read(ref _failure) is null) return; // the common case, no lock
        lock (_gate) _failure = null;
    }
}
