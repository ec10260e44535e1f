using System.Net;

namespace Broker.Tests.Sse;

/// <summary>How a session ends besides the heartbeat and a slow reader: its token, a flood of POSTs, the node's shutdown. Each is a final <c>close</c> event.</summary>
public sealed class SseLifetimeTests(SseHostFixture fixture) : IClassFixture<SseHostFixture>
{
    private BrokerTestHost Host => fixture.Host;

    [Fact]
    public async Task Session_ends_with_4401_token_expired_when_its_bearer_token_runs_out()
    {
        var token = TestTokens.Valid("sse-expiring", lifetime: TimeSpan.FromSeconds(2));
        await using var client = await SseClient.OpenAsync(Host, "chat", SseClient.StreamRequest("chat", token), token, autoPong: true);
        Assert.Equal(TestTokens.ExpiresAtMs(token), client.Welcome.Long("expiresAt"));

        var close = await client.ExpectEndAsync();

        Assert.True(close is { } data && data.Long("code") == 4401 && data.Str("reason") == "token expired", close?.ToString() ?? "no close event");
    }

    [Fact]
    public async Task Posts_past_the_rate_get_rate_limited_then_sustained_flooding_ends_the_session_with_1008()
    {
        await using var client = await SseClient.ConnectAsync(Host, "sse-flooder");
        var batch = new JsonArray(Enumerable.Range(0, 100).Select(i => (JsonNode)SseClient.Envelope("ping", $"f{i}")).ToArray());

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 6 && !client.Ended.IsCompleted; i++)
        {
            using var response = await client.PostRawAsync(batch.ToJsonString());
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.NotFound) break; // the session ended under the flood
        }

        var limited = await client.ReceiveMatchingAsync(f => f.Type() == "error");
        Assert.Equal("rate_limited", limited.ErrorCode());
        var close = await client.ExpectEndAsync();
        Assert.True(close is { } data && data.Long("code") == 1008 && data.Str("reason") == "rate limit exceeded", close?.ToString() ?? "no close event");
        Assert.Equal(HttpStatusCode.Accepted, statuses[0]);
    }

    [Fact]
    public async Task Shutdown_ends_every_stream_with_1001_and_waits_for_it()
    {
        await using var host = await BrokerTestHost.StartAsync();
        await using var client = await SseClient.ConnectAsync(host, "sse-shutdown", autoPong: true);
        await client.JoinAsync("sse-shutdown-room");

        await host.StopAsync();

        var close = await client.ExpectEndAsync();
        Assert.True(close is { } data && data.Long("code") == 1001 && data.Str("reason") == "node shutting down", close?.ToString() ?? "no close event");
        Assert.Equal(0, host.Node.OpenSockets);
    }
}
