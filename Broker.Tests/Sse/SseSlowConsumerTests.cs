using Broker.Tests.Integration;

namespace Broker.Tests.Sse;

/// <summary>PROTOCOL §6 over SSE: a stream that is not read is cut off with a final <c>close</c> 4508 event; the other members miss nothing.</summary>
public sealed class SseSlowConsumerTests(SmallQueueHostFixture fixture) : IClassFixture<SmallQueueHostFixture>
{
    private const int PayloadChars = 256 * 1024;
    private const int MostMessages = 400; // 100 MiB: far past every socket buffer plus the 8-frame queue

    private BrokerTestHost Host => fixture.Host;

    [Fact]
    public async Task Stream_that_stops_being_read_ends_with_slow_consumer_while_the_other_stream_gets_everything()
    {
        await using var publisher = await Host.ConnectAuthenticatedAsync("sse-slow-publisher");
        await using var control = await SseClient.ConnectAsync(Host, "sse-slow-control");
        await using var slow = await SseClient.ConnectAsync(Host, "sse-slow-reader");
        await publisher.JoinAsync("sse-slow-room");
        await control.JoinAsync("sse-slow-room");
        await slow.JoinAsync("sse-slow-room");
        slow.PauseReading();

        var filler = new string('s', PayloadChars);
        var offsets = new List<long>();
        while ((await Host.StatsAsync()).ByRoute.GetValueOrDefault("chat") == 3)
        {
            Assert.True(offsets.Count < MostMessages, $"the unread stream was not cut off after {offsets.Count} messages");
            offsets.Add(await publisher.PublishAsync("sse-slow-room", new { n = offsets.Count, filler }, excludeSelf: true));
            // The control stream keeps up, so it never becomes a slow consumer itself.
            var message = await control.ReceiveAsync("message");
            Assert.Equal(offsets[^1], message.Data().Long("offset"));
        }

        slow.ResumeReading();
        var close = await slow.ExpectEndAsync();
        Assert.True(close is { } data && data.Long("code") == 4508 && data.Str("reason") == "slow consumer", close?.ToString() ?? "no close event");

        var after = await publisher.PublishAsync("sse-slow-room", new { n = "after" }, excludeSelf: true);
        Assert.Equal(after, (await control.ReceiveAsync("message")).Data().Long("offset"));
        for (var i = 1; i < offsets.Count; i++) Assert.Equal(offsets[i - 1] + 1, offsets[i]);
    }
}
