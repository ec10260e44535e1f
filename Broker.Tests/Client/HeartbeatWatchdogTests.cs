using Broker.Client;
using Broker.Client.Protocol;
using Broker.Tests.Integration;

namespace Broker.Tests.Client;

/// <summary>PROTOCOL §5 from the client's side: silence for interval + timeout means a dead connection.</summary>
public sealed class HeartbeatWatchdogTests(FastHeartbeatHostFixture fixture) : IClassFixture<FastHeartbeatHostFixture>
{
    private static readonly TimeSpan Timeout = ClientEvents.Timeout;

    [Fact]
    public async Task A_silent_connection_is_detected_and_replaced()
    {
        await using var proxy = new TcpProxy(fixture.Host);
        await using var client = ReconnectTests.NewClient(proxy.WebSocketUri("chat"), "watchdog");
        var events = new ClientEvents(client);
        var welcome = await client.ConnectAsync().WaitAsync(Timeout);
        Assert.Equal(TimeSpan.FromSeconds(1), welcome.HeartbeatInterval);
        await client.JoinAsync("client-watchdog").WaitAsync(Timeout);

        proxy.Blackhole = true;

        var closed = await events.ClosedAsync();
        Assert.Equal(Close.HeartbeatTimeout.Reason, closed.Reason);
        Assert.True(closed.WillReconnect);
        proxy.Blackhole = false;
        await proxy.DropAllAsync().WaitAsync(Timeout); // ends an attempt stuck in the black hole
        await events.ReconnectedAsync();
        var recovered = await events.RecoveredAsync();
        Assert.Equal("client-watchdog", recovered.Room);
        await client.PingAsync().WaitAsync(Timeout);
    }
}

/// <summary>A broker pinging every 2 s: over several intervals, without a 1 s deadline that a loaded machine can miss.</summary>
public sealed class SteadyHeartbeatHostFixture : HostFixture
{
    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Broker:Heartbeat:Interval"] = "00:00:02",
        ["Broker:Heartbeat:Timeout"] = "00:00:02",
    };
}

/// <summary>
/// Token refresh from the client's side, on a live connection that keeps answering pings, over
/// each transport: on WebSocket a pong frame shows life, on SSE only a POST does (PROTOCOL §9.4).
/// </summary>
public sealed class TokenRefreshTests(SteadyHeartbeatHostFixture fixture) : IClassFixture<SteadyHeartbeatHostFixture>
{
    private static readonly TimeSpan Timeout = ClientEvents.Timeout;

    [Theory]
    [InlineData(BrokerTransport.WebSocket)]
    [InlineData(BrokerTransport.Sse)]
    public async Task The_token_is_refreshed_before_it_expires_and_pings_are_answered_meanwhile(BrokerTransport transport)
    {
        var lifetime = TimeSpan.FromSeconds(4);
        var calls = 0;
        var fourthCall = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var client = new BrokerClient(new BrokerClientOptions
        {
            Url = fixture.Host.WebSocketUri("chat"),
            Transport = transport,
            TokenProvider = _ =>
            {
                if (Interlocked.Increment(ref calls) == 4) fourthCall.TrySetResult();
                return ValueTask.FromResult(TestTokens.Valid("refreshing-" + transport, lifetime));
            },
            RequestTimeout = Timeout,
        });
        var events = new ClientEvents(client);
        var welcome = await client.ConnectAsync().WaitAsync(Timeout);
        var firstExpiry = welcome.ExpiresAt!.Value;

        // Connect, then three refreshes at half the remaining lifetime: well past the first token's
        // expiry and over several heartbeat intervals (2 s), so the server would have closed the
        // connection (4401 token expired, or 1008 heartbeat timeout) had either gone wrong.
        await fourthCall.Task.WaitAsync(Timeout);

        Assert.True(DateTimeOffset.UtcNow > firstExpiry, "the first token has expired");
        await client.PingAsync().WaitAsync(Timeout);
        Assert.True(client.ExpiresAt > firstExpiry);
        Assert.False(events.TryTakeClosed(out var closed), $"closed: {closed}");
        Assert.Equal(welcome.Connection, client.Welcome!.Connection);
        Assert.Equal(BrokerClientState.Connected, client.State);
        Assert.Equal(transport, client.Transport);
    }
}
