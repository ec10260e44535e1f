namespace Broker.Tests.Integration;

/// <summary>A host with a tiny outbound queue (8 frames), large messages allowed and no practical rate limit.</summary>
public sealed class SmallQueueHostFixture : HostFixture
{
    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Broker:Limits:OutboundQueue"] = "8",
        ["Broker:Limits:MaxMessageBytes"] = "1048576",
        ["Broker:Limits:RatePerSecond"] = "100000",
        ["Broker:Limits:RateBurst"] = "100000",
        ["Broker:Routes:chat:AllowBroadcast"] = "true", // the tests publish to the whole route
    };
}

/// <summary>PROTOCOL §6: a client that does not read is cut off with 4508 <c>slow consumer</c>; the others miss nothing.</summary>
public sealed class SlowConsumerTests(SmallQueueHostFixture fixture) : IClassFixture<SmallQueueHostFixture>
{
    private const int PayloadChars = 256 * 1024;
    private static readonly TimeSpan CutOffDeadline = TimeSpan.FromSeconds(30);

    private BrokerTestHost Host => fixture.Host;

    [Fact]
    public async Task Client_that_stops_reading_is_closed_4508_while_the_control_client_receives_everything()
    {
        await using var publisher = await Host.ConnectAuthenticatedAsync("slow-publisher");
        await using var control = await Host.ConnectAuthenticatedAsync("slow-control");
        await using var slow = await Host.ConnectAuthenticatedAsync("slow-reader");
        slow.PauseReading();

        // Publish big payloads until the broker has cut the slow client off: the socket buffers
        // fill, then its outbound queue, then it is closed. Polled with a deadline, never slept.
        var filler = new string('z', PayloadChars);
        var offsets = new List<long>();
        var deadline = DateTime.UtcNow + CutOffDeadline;
        while (await RouteConnectionsAsync() == 3)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the slow client was not cut off after {offsets.Count} messages");
            var ack = await publisher.PublishAsync(new JsonObject { ["n"] = offsets.Count, ["filler"] = filler }, excludeSelf: true);
            offsets.Add(ack.Data().GetProperty("offset").GetInt64());
            // The control client keeps up, so it never becomes a slow consumer itself.
            var message = await control.ReceiveAsync("message");
            Assert.Equal(offsets[^1], message.Data().GetProperty("offset").GetInt64());
        }

        Assert.NotEmpty(offsets);
        slow.ResumeReading();
        var close = await slow.ExpectCloseAsync();
        Assert.True(close.Status == 4508, close.ToString());
        Assert.Equal("slow consumer", close.Description);

        var after = await publisher.PublishAsync(new JsonObject { ["n"] = "after" }, excludeSelf: true);
        var last = await control.ReceiveAsync("message");
        Assert.Equal(after.Data().GetProperty("offset").GetInt64(), last.Data().GetProperty("offset").GetInt64());
        for (var i = 1; i < offsets.Count; i++) Assert.Equal(offsets[i - 1] + 1, offsets[i]);
    }

    private async Task<int> RouteConnectionsAsync()
    {
        var stats = await Host.StatsAsync();
        return stats.ByRoute.TryGetValue("chat", out var n) ? n : 0;
    }
}

/// <summary>A host whose outbound queue is bounded by bytes (1 MiB) long before its frame bound (100,000).</summary>
public sealed class ByteBoundQueueHostFixture : HostFixture
{
    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Broker:Limits:OutboundQueue"] = "100000",
        ["Broker:Limits:OutboundQueueBytes"] = (1024 * 1024).ToString(),
        ["Broker:Limits:MaxMessageBytes"] = "1048576",
        ["Broker:Limits:RatePerSecond"] = "100000",
        ["Broker:Limits:RateBurst"] = "100000",
        ["Broker:Routes:chat:AllowBroadcast"] = "true",
    };
}

/// <summary>
/// Issue #15: the outbound queue is bounded in bytes too, so a stalled reader of large messages
/// cannot pin frame-bound × 64 KiB of the node's memory; a reader that keeps up is never cut off.
/// </summary>
public sealed class OutboundBytesTests(ByteBoundQueueHostFixture fixture) : IClassFixture<ByteBoundQueueHostFixture>
{
    private const int PayloadChars = 256 * 1024;
    private const int MostMessages = 200; // 50 MiB: far past socket buffers plus the 1 MiB bound

    [Fact]
    public async Task A_stalled_reader_is_cut_off_by_queued_bytes_long_before_the_frame_bound()
    {
        var host = fixture.Host;
        await using var publisher = await host.ConnectAuthenticatedAsync("bytes-publisher");
        await using var control = await host.ConnectAuthenticatedAsync("bytes-control");
        await using var slow = await host.ConnectAuthenticatedAsync("bytes-reader");
        slow.PauseReading();

        var filler = new string('b', PayloadChars);
        var sent = 0;
        while (!slow.Closed.IsCompleted && (await host.StatsAsync()).ByRoute.GetValueOrDefault("chat") == 3)
        {
            Assert.True(sent < MostMessages, $"the stalled reader was not cut off after {sent} messages of {PayloadChars} bytes");
            var ack = await publisher.PublishAsync(new JsonObject { ["n"] = sent, ["filler"] = filler }, excludeSelf: true);
            sent++;
            var message = await control.ReceiveAsync("message");
            Assert.Equal(ack.Data().GetProperty("offset").GetInt64(), message.Data().GetProperty("offset").GetInt64());
        }

        slow.ResumeReading();
        var close = await slow.ExpectCloseAsync();
        Assert.True(close.Status == 4508, close.ToString());
        await control.PingPongAsync();
    }
}
