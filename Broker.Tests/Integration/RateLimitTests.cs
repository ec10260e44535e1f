using System.Net.WebSockets;
using System.Text.Json.Nodes;
using Broker.Tests.Infrastructure;
using Xunit;

namespace Broker.Tests.Integration;

/// <summary>A host with a low inbound rate (5 frames/s, burst 5).</summary>
public sealed class RateLimitedHostFixture : HostFixture
{
    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Broker:Limits:RatePerSecond"] = "5",
        ["Broker:Limits:RateBurst"] = "5",
    };
}

/// <summary>PROTOCOL §6: frames over the rate get <c>rate_limited</c>; a sustained flood is closed with 1008.</summary>
public sealed class RateLimitTests(RateLimitedHostFixture fixture) : IClassFixture<RateLimitedHostFixture>
{
    private const int Flood = 40;

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
}
