namespace Broker.Client.Internal;

/// <summary>The delays between reconnection attempts (<see cref="ReconnectOptions"/>); not thread-safe.</summary>
internal sealed class ReconnectBackoff
{
    private readonly TimeSpan _initial;
    private readonly TimeSpan _max;
    private readonly double _factor;
    private readonly double _jitter;
    private readonly Random _random;

    public ReconnectBackoff(ReconnectOptions options, Random? random = null)
    {
        if (options.InitialDelay < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(options), "Reconnect.InitialDelay must not be negative.");
        if (options.MaxDelay < options.InitialDelay) throw new ArgumentOutOfRangeException(nameof(options), "Reconnect.MaxDelay must be at least InitialDelay.");
        if (!(options.Factor >= 1)) throw new ArgumentOutOfRangeException(nameof(options), "Reconnect.Factor must be at least 1.");
        if (!(options.Jitter is >= 0 and <= 1)) throw new ArgumentOutOfRangeException(nameof(options), "Reconnect.Jitter must be between 0 and 1.");
        _initial = options.InitialDelay;
        _max = options.MaxDelay;
        _factor = options.Factor;
        _jitter = options.Jitter;
        _random = random ?? Random.Shared;
    }

    /// <summary>Attempts since the last <see cref="Reset"/>.</summary>
    public int Attempt { get; private set; }

    /// <summary>The delay before the next attempt; advances the sequence.</summary>
    public TimeSpan Next()
    {
        var ceiling = Math.Min(_max.Ticks, _initial.Ticks * Math.Pow(_factor, Attempt));
        if (Attempt < int.MaxValue) Attempt++;
        var delay = ceiling * (1 - _jitter * _random.NextDouble());
        return TimeSpan.FromTicks((long)Math.Clamp(delay, 0, _max.Ticks));
    }

    /// <summary>Back to the first delay (after a <c>welcome</c>).</summary>
    public void Reset() => Attempt = 0;
}
