using System.Net.WebSockets;

namespace Broker.Tests.Integration;

/// <summary>A host with a low inbound rate (20 frames/s, burst 10).</summary>
public sealed class RateLimitedHostFixture : HostFixture
{
    public const int RatePerSecond = 20;
    public const int RateBurst = 10;

    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Broker:Limits:RatePerSecond"] = RatePerSecond.ToString(),
        ["Broker:Limits:RateBurst"] = RateBurst.ToString(),
        ["Broker:Routes:chat:AllowBroadcast"] = "true", // the control client publishes to the whole route
    };
}

/// <summary>
/// PROTOCOL §6 and §9.1: frames over the rate get <c>rate_limited</c>, a sustained flood is closed
/// with 1008, and a client under the rate on average is never limited however long it stays.
/// </summary>
public sealed class RateLimitTests(RateLimitedHostFixture fixture) : IClassFixture<RateLimitedHostFixture>
{
    // Far more than the burst plus what the rate refills while the frames go out, so more frames
    // are rejected within one second than the per-second rate (the "sustained" of §6).
    private const int Flood = 10 * RateLimitedHostFixture.RatePerSecond;

    private BrokerTestHost Host => fixture.Host;

    [Fact]
    public async Task Flood_beyond_the_rate_gets_rate_limited_then_close_1008_and_others_are_unaffected()
    {
        await using var control = await Host.ConnectAuthenticatedAsync("calm");
        await using var flooder = await Host.ConnectAuthenticatedAsync("flooder");

        try
        {
            for (var i = 0; i < Flood; i++) await flooder.SendAsync("ping", $"flood-{i}");
        }
        catch (Exception e) when (e is WebSocketException or IOException or OperationCanceledException)
        {
            // The server may close mid-flood; the close is what is asserted.
        }

        var limited = await flooder.ReceiveAsync("error");
        Assert.Equal("rate_limited", limited.ErrorCode());
        Assert.StartsWith("flood-", limited.Id());
        var close = await flooder.ExpectCloseAsync();
        Assert.True(close.Status == 1008, close.ToString());

        var ack = await control.PublishAsync(new JsonObject { ["still"] = "here" });
        var message = await control.ReceiveAsync("message");
        Assert.Equal(ack.Data().GetProperty("offset").GetInt64(), message.Data().GetProperty("offset").GetInt64());
    }

    [Fact]
    public async Task Client_at_half_the_rate_for_six_times_its_burst_is_never_rate_limited()
    {
        // Issue #14: the bucket never refilled, so every connection was muted once its burst was
        // spent, however slowly it sent. 10 frames/s against 20/s for 6 s is 60 frames: six bursts.
        const int frames = 6 * RateLimitedHostFixture.RateBurst;
        var period = TimeSpan.FromSeconds(2.0 / RateLimitedHostFixture.RatePerSecond);
        await using var client = await Host.ConnectAuthenticatedAsync("half-rate", autoPong: true);

        // The timer paces the sender (the behaviour under test is a rate); nothing here waits on hope.
        using var pace = new PeriodicTimer(period);
        for (var i = 0; i < frames; i++)
        {
            var id = $"slow-{i}";
            await client.SendAsync("ping", id);
            // Replies come in request order: the next frame is this ping's answer, or the failure.
            var reply = await client.ReceiveAsync();
            Assert.True(reply.Type() == "pong" && reply.Id() == id, $"frame {i + 1} of {frames} was answered with {reply}");
            await pace.WaitForNextTickAsync();
        }

        Assert.Equal(WebSocketState.Open, client.State);
    }
}
