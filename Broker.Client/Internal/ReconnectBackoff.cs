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
        ValidateCurve("Reconnect", options.InitialDelay, options.MaxDelay, options.Factor, options.Jitter);
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

    /// <summary>The checks every backoff curve's options pass (<paramref name="section"/> names them in the message).</summary>
    public static void ValidateCurve(string section, TimeSpan initial, TimeSpan max, double factor, double jitter)
    {
        if (initial < TimeSpan.Zero) throw new ArgumentOutOfRangeException("options", $"{section}.InitialDelay must not be negative.");
        if (max < initial) throw new ArgumentOutOfRangeException("options", $"{section}.MaxDelay must be at least InitialDelay.");
        if (!(factor >= 1)) throw new ArgumentOutOfRangeException("options", $"{section}.Factor must be at least 1.");
        if (!(jitter is >= 0 and <= 1)) throw new ArgumentOutOfRangeException("options", $"{section}.Jitter must be between 0 and 1.");
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
        ReconnectBackoff.ValidateCurve("Retry", options.InitialDelay, options.MaxDelay, options.Factor, options.Jitter);
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
