using System.Net.WebSockets;

namespace Broker.Tests.Integration;

/// <summary>
/// A host whose heartbeat ticks every 30 ms, so a session of more than a thousand intervals takes
/// about thirty seconds; the pongs (33/s) stay under the default inbound rate (100/s, burst 200).
/// Not shorter: the ping → pong round trip inside one test process must stay under an interval,
/// and at 20 ms it often did not. Even at 30 ms a stall of the process longer than an interval
/// (seen with 8+ runnable threads on 2 cores: a ping that left the actor reached the client 40 ms
/// later) ends the session with 1008 heartbeat timeout, which this test then reports.
/// </summary>
public sealed class RapidHeartbeatHostFixture : IAsyncLifetime
{
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(30);

    public BrokerTestHost Host { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Host = await BrokerTestHost.StartAsync(new Dictionary<string, string?>
        {
            ["Broker:Heartbeat:Interval"] = Interval.ToString("c"),
            ["Broker:Heartbeat:Timeout"] = "00:00:01",
        });
        // The first session on a fresh host runs every path cold (JIT), slower than an interval
        // this short: one throwaway session takes that hit, whether or not it survives it.
        try
        {
            await using var warmUp = await Host.ConnectAuthenticatedAsync("warm-up", autoPong: true);
            await warmUp.SendAsync("join", "j", new JsonObject { ["room"] = "warm-up" });
            await warmUp.ReceiveAsync("joined", "j");
            await warmUp.SendAsync("publish", "p", new JsonObject { ["room"] = "warm-up", ["payload"] = 1 });
            await warmUp.ReceiveAsync("ack", "p");
        }
        catch (Exception e) when (e is Xunit.Sdk.XunitException or TimeoutException or WebSocketException)
        {
            // Closed by the heartbeat while cold: the warming is done all the same.
        }
    }

    public async Task DisposeAsync() => await Host.DisposeAsync();
}

/// <summary>
/// Tests whose timing is the behaviour under test (a 30 ms heartbeat): they run alone, after the
/// parallel ones, so the rest of the suite does not stretch a ping's round trip past an interval.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TimingSensitiveCollection
{
    public const string Name = "Timing-sensitive";
}

/// <summary>
/// Issue #14 "No silent loss": behaviour over many periods, through the real host (STYLE 11). A
/// connection that answers every ping stays served for as long as it lives (PROTOCOL §5, §9.1).
/// </summary>
[Collection(TimingSensitiveCollection.Name)]
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
