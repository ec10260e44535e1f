using Broker.Actors.Connections;

namespace Broker.Tests.Connections;

/// <summary><see cref="TokenBucket"/> on a clock that moves only when the test says: no waiting.</summary>
public sealed class TokenBucketTests
{
    private readonly ManualTimeProvider _clock = new();

    private void Advance(double ms) => _clock.Advance(TimeSpan.FromMilliseconds(ms));

    [Fact]
    public void Bucket_starts_full_and_allows_exactly_its_burst_at_once()
    {
        var bucket = new TokenBucket(ratePerSecond: 10, capacity: 5, _clock);

        for (var i = 0; i < 5; i++) Assert.True(bucket.TryTake(), $"take {i}");
        Assert.False(bucket.TryTake());
    }

    [Fact]
    public void Empty_bucket_refills_one_token_per_rate_interval()
    {
        var bucket = new TokenBucket(ratePerSecond: 10, capacity: 1, _clock);
        Assert.True(bucket.TryTake());

        Advance(99);
        Assert.False(bucket.TryTake());
        Advance(1);
        Assert.True(bucket.TryTake());
        Advance(50);
        Assert.False(bucket.TryTake());
        Advance(50);
        Assert.True(bucket.TryTake());
    }

    [Fact]
    public void Refill_never_exceeds_the_capacity()
    {
        var bucket = new TokenBucket(ratePerSecond: 100, capacity: 3, _clock);
        for (var i = 0; i < 3; i++) bucket.TryTake();

        Advance(60_000); // a minute idle would be 6000 tokens without the cap
        for (var i = 0; i < 3; i++) Assert.True(bucket.TryTake());
        Assert.False(bucket.TryTake());
    }

    [Fact]
    public void Sustained_rate_equal_to_the_refill_rate_is_always_allowed()
    {
        var bucket = new TokenBucket(ratePerSecond: 50, capacity: 1, _clock);

        for (var i = 0; i < 500; i++)
        {
            Assert.True(bucket.TryTake(), $"frame {i}");
            Advance(20);
        }
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(-1, 1)]
    [InlineData(1, 0)]
    [InlineData(1, 0.5)]
    public void Nonsense_rate_or_capacity_is_refused(double rate, double capacity) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new TokenBucket(rate, capacity, _clock));
}
