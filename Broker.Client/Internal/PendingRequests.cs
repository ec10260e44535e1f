namespace Broker.Client.Internal;

/// <summary>The reply a request waits for.</summary>
internal enum ReplyKind : byte { Joined, Left, Ack, AckWithEpoch, Delivered, Pong, Refreshed }

/// <summary>A reply's content: a number (offset, delivered, expiresAt), a <see cref="Client.Joined"/>, or an ack's epoch.</summary>
internal readonly record struct Reply(long Number, Joined? Joined = null, string? Epoch = null);

/// <summary>One request in flight, completed by the reply carrying its id.</summary>
internal sealed class PendingRequest(long id, ReplyKind kind, string? room, bool rejoin)
    : TaskCompletionSource<Reply>(TaskCreationOptions.RunContinuationsAsynchronously)
{
    public long Id { get; } = id;
    public ReplyKind Kind { get; } = kind;
    /// <summary>The room of a join or leave.</summary>
    public string? Room { get; } = room;
    /// <summary>A join the client sent on its own after reconnecting.</summary>
    public bool Rejoin { get; } = rejoin;
}

/// <summary>
/// The requests awaiting a reply, by id. Ids are increasing integers sent as strings. Thread-safe.
/// A request that outlives its timeout fails with <see cref="TimeoutException"/> and is forgotten.
/// </summary>
internal sealed class PendingRequests(TimeProvider time)
{
    private readonly Dictionary<long, PendingRequest> _pending = new();
    private long _nextId;

    public int Count
    {
        get { lock (_pending) return _pending.Count; }
    }

    public PendingRequest Add(ReplyKind kind, string? room = null, bool rejoin = false)
    {
        var request = new PendingRequest(Interlocked.Increment(ref _nextId), kind, room, rejoin);
        lock (_pending) _pending.Add(request.Id, request);
        return request;
    }

    /// <summary>Removes the request with <paramref name="id"/>, if still pending.</summary>
    public bool TryTake(long id, out PendingRequest request)
    {
        lock (_pending) return _pending.Remove(id, out request!);
    }

    public bool Remove(PendingRequest request)
    {
        lock (_pending) return _pending.Remove(request.Id);
    }

    /// <summary>Fails every pending request (the connection dropped); returns them so the caller can clean up after them.</summary>
    public PendingRequest[] FailAll(Func<PendingRequest, Exception> error)
    {
        PendingRequest[] all;
        lock (_pending)
        {
            if (_pending.Count == 0) return [];
            all = new PendingRequest[_pending.Count];
            _pending.Values.CopyTo(all, 0);
            _pending.Clear();
        }
        foreach (var request in all) request.TrySetException(error(request));
        return all;
    }

    /// <summary>Waits for the reply up to <paramref name="timeout"/> on this table's clock.</summary>
    public async Task<Reply> WaitAsync(PendingRequest request, TimeSpan timeout, string what, CancellationToken cancellationToken)
    {
        try
        {
            return await request.Task.WaitAsync(timeout, time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Remove(request);
            throw new TimeoutException($"No reply to {what} within {timeout}.");
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Remove(request);
            throw;
        }
    }
}
