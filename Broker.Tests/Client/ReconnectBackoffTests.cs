using Broker.Client;
using Broker.Client.Internal;

namespace Broker.Tests.Client;

public sealed class ReconnectBackoffTests
{
    private sealed class FixedRandom(double value) : Random
    {
        public override double NextDouble() => value;
    }

    private static ReconnectOptions Options(double jitter = 0) => new()
    {
        InitialDelay = TimeSpan.FromMilliseconds(100),
        MaxDelay = TimeSpan.FromSeconds(1),
        Factor = 2,
        Jitter = jitter,
    };

    private static double[] Take(ReconnectBackoff backoff, int n) =>
        Enumerable.Range(0, n).Select(_ => backoff.Next().TotalMilliseconds).ToArray();

    [Fact]
    public void Delays_grow_by_the_factor_up_to_the_maximum()
    {
        var backoff = new ReconnectBackoff(Options(), new FixedRandom(0.5));

        Assert.Equal([100, 200, 400, 800, 1000, 1000, 1000], Take(backoff, 7));
        Assert.Equal(7, backoff.Attempt);
    }

    [Fact]
    public void Jitter_takes_at_most_its_share_off_each_delay()
    {
        var longest = new ReconnectBackoff(Options(jitter: 0.5), new FixedRandom(0));
        var shortest = new ReconnectBackoff(Options(jitter: 0.5), new FixedRandom(0.999999));

        Assert.Equal([100, 200, 400, 800, 1000], Take(longest, 5));
        Assert.All(Take(shortest, 5).Zip([100.0, 200, 400, 800, 1000]), p => Assert.InRange(p.Item1, p.Item2 * 0.5, p.Item2 * 0.5 + 0.01));
    }

    [Fact]
    public void Random_jitter_stays_within_bounds_and_never_exceeds_the_maximum()
    {
        var backoff = new ReconnectBackoff(Options(jitter: 1), new Random(42));

        foreach (var delay in Take(backoff, 200)) Assert.InRange(delay, 0, 1000);
    }

    [Fact]
    public void Reset_starts_the_sequence_again()
    {
        var backoff = new ReconnectBackoff(Options(), new FixedRandom(0));
        Take(backoff, 4);

        backoff.Reset();

        Assert.Equal(0, backoff.Attempt);
        Assert.Equal([100, 200], Take(backoff, 2));
    }

    [Fact]
    public void Many_attempts_do_not_overflow()
    {
        var backoff = new ReconnectBackoff(Options(), new FixedRandom(0));

        Assert.Equal(1000, Take(backoff, 5000).Last());
    }

    [Theory]
    [InlineData(-1, 1000, 2, 0.5)]
    [InlineData(100, 50, 2, 0.5)]
    [InlineData(100, 1000, 0.5, 0.5)]
    [InlineData(100, 1000, 2, 1.5)]
    public void Nonsensical_options_are_refused(int initialMs, int maxMs, double factor, double jitter)
    {
        var options = new ReconnectOptions
        {
            InitialDelay = TimeSpan.FromMilliseconds(initialMs),
            MaxDelay = TimeSpan.FromMilliseconds(maxMs),
            Factor = factor,
            Jitter = jitter,
        };

        Assert.Throws<ArgumentOutOfRangeException>(() => new ReconnectBackoff(options));
    }
}
