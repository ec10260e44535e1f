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
        var delay = Delay(Attempt, _initial, _max, _factor, _jitter, _random.NextDouble());
        if (Attempt < int.MaxValue) Attempt++;
        return delay;
    }

    /// <summary><c>min(max, initial · factor^attempt)</c> less a share of at most <paramref name="jitter"/>, by <paramref name="sample"/> in [0, 1).</summary>
    public static TimeSpan Delay(int attempt, TimeSpan initial, TimeSpan max, double factor, double jitter, double sample)
    {
        var ceiling = Math.Min(max.Ticks, initial.Ticks * Math.Pow(factor, attempt));
        var delay = ceiling * (1 - jitter * sample);
        return TimeSpan.FromTicks((long)Math.Clamp(delay, 0, max.Ticks));
    }

    /// <summary>Back to the first delay (after a <c>welcome</c>).</summary>
    public void Reset() => Attempt = 0;
}

/// <summary>
/// When to retry a request answered <c>unavailable</c> (<see cref="RetryOptions"/>). Thread-safe:
/// requests retry concurrently, and a <see cref="Random"/> the app supplied is not.
/// </summary>
internal sealed class RetryPolicy
{
    private readonly RetryOptions _options;
    private readonly Random _random;

    public RetryPolicy(RetryOptions options, Random? random = null)
    {
        if (options.InitialDelay < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(options), "Retry.InitialDelay must not be negative.");
        if (options.MaxDelay < options.InitialDelay) throw new ArgumentOutOfRangeException(nameof(options), "Retry.MaxDelay must be at least InitialDelay.");
        if (!(options.Factor >= 1)) throw new ArgumentOutOfRangeException(nameof(options), "Retry.Factor must be at least 1.");
        if (!(options.Jitter is >= 0 and <= 1)) throw new ArgumentOutOfRangeException(nameof(options), "Retry.Jitter must be between 0 and 1.");
        if (options.MaxAttempts < 1) throw new ArgumentOutOfRangeException(nameof(options), "Retry.MaxAttempts must be at least 1.");
        _options = options;
        _random = random ?? Random.Shared;
    }

    /// <summary>
    /// The delay before the next send, after <paramref name="attempts"/> sends of which the first was
    /// <paramref name="elapsed"/> ago; false when no retry is left (the caller fails with the last error).
    /// </summary>
    public bool TryNext(int attempts, TimeSpan elapsed, out TimeSpan delay)
    {
        delay = TimeSpan.Zero;
        if (!_options.Enabled || attempts >= _options.MaxAttempts) return false;
        double sample;
        lock (_random) sample = _random.NextDouble();
        delay = ReconnectBackoff.Delay(attempts - 1, _options.InitialDelay, _options.MaxDelay, _options.Factor, _options.Jitter, sample);
        return elapsed + delay <= _options.MaxElapsed;
    }

    /// <summary>The requests that may be retried: the server never applied them (PROTOCOL §9.1).</summary>
    public static bool Retries(ReplyKind kind) => kind is ReplyKind.Joined or ReplyKind.Ack or ReplyKind.AckWithEpoch or ReplyKind.Delivered;
}
