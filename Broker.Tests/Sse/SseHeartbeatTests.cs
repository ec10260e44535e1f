using System.Diagnostics;
using Broker.Tests.Integration;

namespace Broker.Tests.Sse;

/// <summary>
/// A host whose heartbeat ticks every 100 ms, with clients told to allow 400 ms more: a POSTed pong
/// is a whole HTTP request, and at 50/150 ms its round trip outlasted the deadline on a loaded
/// 2-core machine (three failures in a row at a load of 23).
/// </summary>
public sealed class SseHeartbeatHostFixture : HostFixture
{
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);
    public static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(400);

    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Broker:Heartbeat:Interval"] = "00:00:00.100",
        ["Broker:Heartbeat:Timeout"] = "00:00:00.400",
    };
}

/// <summary>
/// PROTOCOL §9.4's heartbeat over many periods: a POSTed pong (any POST) is life on a bidirectional
/// route; a receive-only stream, which a plain EventSource reads and cannot answer, lives as long as
/// the stream takes its pings.
/// Alone, after the parallel tests (as the WebSocket heartbeat's long sessions): the rest of the
/// suite would stretch a POSTed pong's round trip past a short interval.
/// </summary>
[Collection(TimingSensitiveCollection.Name)]
public sealed class SseHeartbeatTests(SseHeartbeatHostFixture fixture) : IClassFixture<SseHeartbeatHostFixture>
{
    private const int Periods = 40;

    private BrokerTestHost Host => fixture.Host;

    [Fact]
    public async Task Session_that_posts_pongs_stays_up_for_many_periods()
    {
        await using var client = await SseClient.ConnectAsync(Host, "hb-sse-pong", autoPong: true);

        for (var i = 0; i < Periods; i++) await client.ReceiveAsync("ping");

        Assert.False(client.Ended.IsCompleted, $"ended: {(client.Ended.IsCompleted ? await client.Ended : null)}");
        await client.PostAsync(SseClient.Envelope("ping", "alive"));
        await client.ReceiveAsync("pong", "alive");
    }

    [Fact]
    public async Task Session_on_a_bidirectional_route_that_posts_nothing_ends_within_interval_plus_timeout()
    {
        await using var client = await SseClient.ConnectAsync(Host, "hb-sse-silent");
        var watch = Stopwatch.StartNew();

        var close = await client.ExpectEndAsync();
        var elapsed = watch.Elapsed;

        Assert.True(close is { } data && data.Long("code") == 1008 && data.Str("reason") == "heartbeat timeout", close?.ToString() ?? "no close event");
        // The client's rule (PROTOCOL §5) with room for a loaded machine's scheduling.
        var bound = SseHeartbeatHostFixture.Interval + SseHeartbeatHostFixture.Timeout + TimeSpan.FromMilliseconds(500);
        Assert.True(elapsed <= bound, $"ended after {elapsed}");
        await client.ReceiveAsync("ping"); // it was pinged before it was cut off
    }

    [Fact]
    public async Task Receive_only_stream_that_never_posts_stays_up_for_many_periods()
    {
        var (ticket, _) = await TicketTests.IssueTicketAsync(Host, TestTokens.Valid("hb-sse-reader"));
        await using var client = await SseClient.OpenAsync(Host, "notifications",
            SseClient.StreamRequest("notifications", query: "ticket=" + ticket), postToken: TestTokens.Valid("hb-sse-reader"));

        for (var i = 0; i < Periods; i++) await client.ReceiveAsync("ping");

        Assert.False(client.Ended.IsCompleted, $"ended: {(client.Ended.IsCompleted ? await client.Ended : null)}");
        Assert.Equal(1, (await Host.StatsAsync()).ByRoute.GetValueOrDefault("notifications"));
    }
}
