using System.Text.Json.Nodes;
using Broker.Tests.Infrastructure;
using Xunit;

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
