using System.Net.WebSockets;
using System.Text.Json.Nodes;
using Broker.Tests.Infrastructure;
using Xunit;

namespace Broker.Tests.Integration;

/// <summary>
/// A host whose heartbeat ticks every 30 ms, so a session of more than a thousand intervals takes
/// about thirty seconds; the pongs (33/s) stay under the default inbound rate (100/s, burst 200).
/// Not shorter: the ping → pong round trip inside one busy test process (two shared cores) must
/// stay under an interval, and at 20 ms it did not always.
/// </summary>
public sealed class RapidHeartbeatHostFixture : HostFixture
{
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(30);

    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Broker:Heartbeat:Interval"] = Interval.ToString("c"),
        ["Broker:Heartbeat:Timeout"] = "00:00:01",
    };
}

/// <summary>
/// Issue #14 "No silent loss": behaviour over many periods, through the real host (STYLE 11). A
/// connection that answers every ping stays served for as long as it lives (PROTOCOL §5, §9.1).
/// </summary>
public sealed class LongSessionTests(RapidHeartbeatHostFixture fixture) : IClassFixture<RapidHeartbeatHostFixture>
{
    private const int Intervals = 1_001;

    private BrokerTestHost Host => fixture.Host;

    [Fact]
    public async Task Client_answering_every_ping_for_a_thousand_intervals_still_publishes_and_pings()
    {
        await using var client = await Host.ConnectAuthenticatedAsync("long-session", autoPong: true);
        var room = "long-" + Guid.NewGuid().ToString("N")[..8];
        await client.SendAsync("join", "join-1", new JsonObject { ["room"] = room });
        await client.ReceiveAsync("joined", "join-1");

        // Every frame in this stretch must be a ping (each answered by the client's pump): a
        // rate_limited error for a pong, or a close, is the loss this test is about. The old
        // limiter never refilled, so pong 201 was refused (burst 200).
        var pings = 0;
        try
        {
            for (; pings < Intervals; pings++)
            {
                var frame = await client.ReceiveAsync(includePings: true);
                Assert.True(frame.Type() == "ping", $"after {pings} pings the server sent {frame}");
            }
        }
        catch (Exception e) when (e is Xunit.Sdk.XunitException or TimeoutException && pings < Intervals)
        {
            throw new Xunit.Sdk.XunitException($"the session ended after {pings} of {Intervals} pings: {e.Message}");
        }

        await client.SendAsync("publish", "pub-1", new JsonObject { ["room"] = room, ["payload"] = new JsonObject { ["after"] = Intervals } });
        var ack = await client.ReceiveAsync("ack", "pub-1");
        Assert.True(ack.Data().GetProperty("offset").GetInt64() >= 1, ack.ToString());
        await client.PingPongAsync();
        Assert.Equal(WebSocketState.Open, client.State);
    }
}
