using System.Diagnostics;

namespace Broker.Tests.Integration;

/// <summary>A host whose heartbeat ticks every second.</summary>
public sealed class FastHeartbeatHostFixture : HostFixture
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Broker:Heartbeat:Interval"] = "00:00:01",
        ["Broker:Heartbeat:Timeout"] = "00:00:01",
    };
}

/// <summary>PROTOCOL §5: a connection silent since the previous ping is terminated at the next tick.</summary>
public sealed class HeartbeatTests(FastHeartbeatHostFixture fixture) : IClassFixture<FastHeartbeatHostFixture>
{
    private BrokerTestHost Host => fixture.Host;

    [Fact]
    public async Task Client_that_never_answers_pings_is_terminated_within_three_intervals_while_a_ponging_client_stays()
    {
        await using var alive = await Host.ConnectAuthenticatedAsync("hb-alive", autoPong: true);
        await using var silent = await Host.ConnectAuthenticatedAsync("hb-silent");
        var watch = Stopwatch.StartNew();

        var close = await silent.ExpectCloseAsync();
        var elapsed = watch.Elapsed;

        Assert.True(close.Status == 1008, close.ToString());
        Assert.Equal("heartbeat timeout", close.Description);
        Assert.True(elapsed <= 3 * FastHeartbeatHostFixture.Interval + TimeSpan.FromMilliseconds(500), $"terminated after {elapsed}");
        // The silent client really was pinged before it was cut off.
        Assert.Equal("ping", (await silent.ReceiveAsync("ping")).Type());

        // The ponging client lived through the same ticks and is still served.
        Assert.Equal(System.Net.WebSockets.WebSocketState.Open, alive.State);
        await alive.PingPongAsync();
    }

    [Theory]
    [InlineData("00:00:00.009")]
    [InlineData("00:00:00")]
    public async Task Interval_under_10_ms_is_refused_at_start_up_naming_the_key(string interval)
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var host = await BrokerTestHost.StartAsync(new Dictionary<string, string?> { ["Broker:Heartbeat:Interval"] = interval });
        });

        Assert.Contains("Broker:Heartbeat:Interval", error.ToString());
    }

    [Fact]
    public async Task Welcome_announces_the_configured_heartbeat()
    {
        await using var client = await TestClient.ConnectAsync(Host.WebSocketUri("chat"), autoPong: true);
        var welcome = await client.AuthenticateAsync(TestTokens.Valid("hb-welcome"));

        var heartbeat = welcome.Data().GetProperty("heartbeat");
        Assert.Equal(1000, heartbeat.GetProperty("interval").GetInt64());
        Assert.Equal(1000, heartbeat.GetProperty("timeout").GetInt64());
    }
}
