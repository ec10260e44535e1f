namespace Broker.Tests.Infrastructure;

/// <summary>Waits for state that settles asynchronously by polling with a deadline (never a fixed sleep).</summary>
public static class Eventually
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(50);

    /// <summary>Polls <paramref name="condition"/> until it holds; fails with <paramref name="what"/> after <see cref="TestClient.DefaultTimeout"/>.</summary>
    public static Task TrueAsync(Func<bool> condition, string what) => TrueAsync(condition, TestClient.DefaultTimeout, what);

    /// <inheritdoc cref="TrueAsync(Func{bool}, string)"/>
    public static Task TrueAsync(Func<Task<bool>> condition, string what) => TrueAsync(condition, TestClient.DefaultTimeout, what);

    /// <summary>Polls <paramref name="condition"/> until it holds; fails with <paramref name="what"/> after <paramref name="within"/>.</summary>
    public static Task TrueAsync(Func<bool> condition, TimeSpan within, string what) =>
        TrueAsync(() => Task.FromResult(condition()), within, what);

    /// <summary>As above; a host that is not listening yet (<see cref="HttpRequestException"/>) counts as false.</summary>
    public static async Task TrueAsync(Func<Task<bool>> condition, TimeSpan within, string what)
    {
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            try
            {
                if (await condition()) return;
            }
            catch (HttpRequestException) { /* not up yet */ }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"not true within {within}: {what}");
            await Task.Delay(Interval);
        }
    }

    /// <summary>Retries <paramref name="assertion"/> until it passes; after <paramref name="within"/> its failure is the test's.</summary>
    public static async Task HoldsAsync(Func<Task> assertion, TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TestClient.DefaultTimeout);
        while (true)
        {
            try
            {
                await assertion();
                return;
            }
            catch (Xunit.Sdk.XunitException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(20));
            }
        }
    }
}
