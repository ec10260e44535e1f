namespace Broker.Tests.Infrastructure;

/// <summary>The system clock plus an offset tests can move forward, to expire things without waiting.</summary>
public sealed class AdjustableTimeProvider : TimeProvider
{
    private long _offsetTicks;

    public override DateTimeOffset GetUtcNow() =>
        base.GetUtcNow() + TimeSpan.FromTicks(Interlocked.Read(ref _offsetTicks));

    /// <summary>Moves this clock forward by <paramref name="by"/>.</summary>
    public void Advance(TimeSpan by) => Interlocked.Add(ref _offsetTicks, by.Ticks);

    /// <summary>Back to the system time.</summary>
    public void Reset() => Interlocked.Exchange(ref _offsetTicks, 0);
}
