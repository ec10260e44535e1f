using Broker.Actors.Connections;
using Xunit;

namespace Broker.Tests.Connections;

/// <summary><see cref="TokenBucket"/> with explicit ticks: no clock, no waiting.</summary>
public sealed class TokenBucketTests
{
    private const long T0 = 1_000_000_000;
    private static long Ms(double ms) => T0 + (long)(ms * TimeSpan.TicksPerMillisecond);

    [Fact]
    public void Bucket_starts_full_and_allows_exactly_its_burst_at_once()
    {
        var bucket = new TokenBucket(ratePerSecond: 10, capacity: 5, T0);

        for (var i = 0; i < 5; i++) Assert.True(bucket.TryTake(T0), $"take {i}");
        Assert.False(bucket.TryTake(T0));
    }

    [Fact]
    public void Empty_bucket_refills_one_token_per_rate_interval()
    {
        var bucket = new TokenBucket(ratePerSecond: 10, capacity: 1, T0);
        Assert.True(bucket.TryTake(T0));

        Assert.False(bucket.TryTake(Ms(99)));
        Assert.True(bucket.TryTake(Ms(100)));
        Assert.False(bucket.TryTake(Ms(150)));
        Assert.True(bucket.TryTake(Ms(200)));
    }

    [Fact]
    public void Refill_never_exceeds_the_capacity()
    {
        var bucket = new TokenBucket(ratePerSecond: 100, capacity: 3, T0);
        for (var i = 0; i < 3; i++) bucket.TryTake(T0);

        var later = Ms(60_000); // a minute idle would be 6000 tokens without the cap
        for (var i = 0; i < 3; i++) Assert.True(bucket.TryTake(later));
        Assert.False(bucket.TryTake(later));
    }

    [Fact]
    public void Sustained_rate_equal_to_the_refill_rate_is_always_allowed()
    {
        var bucket = new TokenBucket(ratePerSecond: 50, capacity: 1, T0);

        for (var i = 0; i < 500; i++)
            Assert.True(bucket.TryTake(Ms(i * 20)), $"frame {i}");
    }

    [Fact]
    public void Time_going_backwards_adds_no_tokens()
    {
        var bucket = new TokenBucket(ratePerSecond: 10, capacity: 1, Ms(1000));
        Assert.True(bucket.TryTake(Ms(1000)));

        Assert.False(bucket.TryTake(Ms(0)));
        Assert.False(bucket.TryTake(Ms(1050)));
        Assert.True(bucket.TryTake(Ms(1100)));
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(-1, 1)]
    [InlineData(1, 0)]
    [InlineData(1, 0.5)]
    public void Nonsense_rate_or_capacity_is_refused(double rate, double capacity) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new TokenBucket(rate, capacity, T0));
}
