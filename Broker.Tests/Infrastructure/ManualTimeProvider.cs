namespace Broker.Tests.Infrastructure;

/// <summary>
/// The tests' one fake clock. By default it stands still until a test calls <see cref="Advance"/>;
/// due timers fire in order on the caller's thread (enough for <c>Task.WaitAsync(timeout, timeProvider)</c>
/// and <c>Task.Delay</c>). <see cref="FollowingSystemClock"/> makes one for a real host instead: the
/// system clock plus what tests advanced, with the system's timers, so the host's own timers still run.
/// </summary>
public sealed class ManualTimeProvider : TimeProvider
{
    private readonly Lock _lock = new();
    private readonly List<ManualTimer> _timers = [];
    private readonly bool _followsSystem;
    private DateTimeOffset _now = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
    private long _offsetTicks;

    public ManualTimeProvider() { }

    private ManualTimeProvider(bool followsSystem) => _followsSystem = followsSystem;

    /// <summary>The system clock plus an offset tests move forward, to expire things in a running host without waiting.</summary>
    public static ManualTimeProvider FollowingSystemClock() => new(followsSystem: true);

    public override DateTimeOffset GetUtcNow()
    {
        if (_followsSystem) return System.GetUtcNow() + TimeSpan.FromTicks(Interlocked.Read(ref _offsetTicks));
        lock (_lock) return _now;
    }

    public override long GetTimestamp() => _followsSystem ? System.GetTimestamp() : GetUtcNow().UtcTicks;

    public override long TimestampFrequency => _followsSystem ? System.TimestampFrequency : TimeSpan.TicksPerSecond;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        if (_followsSystem) return System.CreateTimer(callback, state, dueTime, period);
        var timer = new ManualTimer(this, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>Back to the system time (a clock following it only).</summary>
    public void Reset() => Interlocked.Exchange(ref _offsetTicks, 0);

    /// <summary>Moves the clock forward, firing every timer that falls due on the way.</summary>
    public void Advance(TimeSpan by)
    {
        if (_followsSystem)
        {
            Interlocked.Add(ref _offsetTicks, by.Ticks);
            return;
        }
        DateTimeOffset target;
        lock (_lock) target = _now + by;
        while (true)
        {
            ManualTimer? next = null;
            lock (_lock)
            {
                foreach (var timer in _timers)
                    if (timer.Due is { } due && due <= target && (next is null || due < next.Due)) next = timer;
                if (next is null)
                {
                    _now = target;
                    return;
                }
                _now = next.Due!.Value;
                next.Due = next.Period is { } period ? _now + period : null;
            }
            next.Fire();
        }
    }

    private sealed class ManualTimer(ManualTimeProvider clock, TimerCallback callback, object? state) : ITimer
    {
        public DateTimeOffset? Due { get; set; }
        public TimeSpan? Period { get; private set; }

        public void Fire() => callback(state);

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (clock._lock)
            {
                Due = dueTime == Timeout.InfiniteTimeSpan ? null : clock._now + dueTime;
                Period = period == Timeout.InfiniteTimeSpan || period == TimeSpan.Zero ? null : period;
                if (!clock._timers.Contains(this)) clock._timers.Add(this);
            }
            return true;
        }

        public void Dispose()
        {
            lock (clock._lock) clock._timers.Remove(this);
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
