namespace Broker.Actors.Connections;

/// <summary>
/// One token bucket of joins per user on this node, shared by all the user's connections
/// (issue #15): the per-connection inbound rate does not stop one user with a hundred
/// connections from churning a room, and every join and leave costs the room's other members a
/// presence frame. Thread-safe: connection actors of one user run on different threads.
/// <para>
/// A bucket left alone long enough to refill is the same as no bucket, so buckets of users that
/// stopped joining are dropped, in a sweep at most once per refill period: the table holds only
/// users who joined recently.
/// </para>
/// </summary>
public sealed class UserJoinLimiter
{
    private readonly double _ratePerSecond;
    private readonly int _burst;
    private readonly TimeProvider _clock;
    private readonly TimeSpan _refill; // how long an empty bucket takes to fill
    private readonly Dictionary<string, Entry> _buckets = new(StringComparer.Ordinal);
    private long _lastSweep;

    /// <param name="ratePerSecond">Sustained joins per second per user.</param>
    /// <param name="burst">Joins a user may make at once.</param>
    /// <param name="clock">The host's clock (tests pass a fake one).</param>
    public UserJoinLimiter(double ratePerSecond, int burst, TimeProvider clock)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(ratePerSecond);
        ArgumentOutOfRangeException.ThrowIfLessThan(burst, 1);
        _ratePerSecond = ratePerSecond;
        _burst = burst;
        _clock = clock;
        _refill = TimeSpan.FromSeconds(burst / ratePerSecond);
        _lastSweep = clock.GetTimestamp();
    }

    /// <summary>Users with a bucket now (for tests and the sweep's proof).</summary>
    public int TrackedUsers
    {
        get { lock (_buckets) return _buckets.Count; }
    }

    /// <summary>Takes one join from <paramref name="userId"/>'s bucket; false when it is empty.</summary>
    public bool TryJoin(string userId)
    {
        var now = _clock.GetTimestamp();
        lock (_buckets)
        {
            if (_clock.GetElapsedTime(_lastSweep, now) >= _refill) Sweep(now);
            if (!_buckets.TryGetValue(userId, out var entry))
                _buckets[userId] = entry = new Entry(new TokenBucket(_ratePerSecond, _burst, _clock));
            entry.LastUsed = now;
            return entry.Bucket.TryTake();
        }
    }

    private void Sweep(long now)
    {
        _lastSweep = now;
        List<string>? idle = null;
        foreach (var (user, entry) in _buckets)
            if (_clock.GetElapsedTime(entry.LastUsed, now) >= _refill) (idle ??= []).Add(user);
        if (idle is null) return;
        foreach (var user in idle) _buckets.Remove(user);
    }

    private sealed class Entry(TokenBucket bucket)
    {
        public TokenBucket Bucket { get; } = bucket;
        public long LastUsed { get; set; }
    }
}
