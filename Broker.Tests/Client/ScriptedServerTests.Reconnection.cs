using Broker.Client;
using Broker.Client.Protocol;

namespace Broker.Tests.Client;

public sealed partial class ScriptedServerTests
{
    [Theory]
    [InlineData(1000)]
    [InlineData(4403)]
    [InlineData(4000)]
    public async Task A_close_that_forbids_reconnecting_ends_the_client(int code)
    {
        await using var client = NewClient();
        var events = new ClientEvents(client);
        var side = await _server.ConnectAsync(client);

        await side.CloseAsync(code, "bye");

        var closed = await events.ClosedAsync();
        Assert.Equal(new ConnectionClosed(code, "bye", WillReconnect: false), closed);
        Assert.Equal(BrokerClientState.Closed, client.State);
        Assert.Equal(BrokerException.Closed, (await Assert.ThrowsAsync<BrokerException>(() => client.PingAsync().WaitAsync(Timeout))).Code);
    }

    [Theory]
    [InlineData(1001)]
    [InlineData(1011)]
    [InlineData(4508)]
    [InlineData(1008)]
    public async Task A_close_that_allows_reconnecting_is_followed_by_a_new_connection(int code)
    {
        await using var client = NewClient();
        var events = new ClientEvents(client);
        var first = await _server.ConnectAsync(client);

        await first.CloseAsync(code, "again");
        var second = await _server.AcceptAuthenticatedAsync();

        var closed = await events.ClosedAsync();
        Assert.Equal(new ConnectionClosed(code, "again", WillReconnect: true), closed);
        await events.ReconnectedAsync();
        Assert.Equal(second.Connection, client.Welcome!.Connection);
        Assert.Equal("token-2", second.Token); // a fresh token for every connection
    }

    [Fact]
    public async Task A_drop_without_a_close_frame_reconnects()
    {
        await using var client = NewClient();
        var events = new ClientEvents(client);
        var first = await _server.ConnectAsync(client);

        first.Abort();
        await _server.AcceptAuthenticatedAsync();

        var closed = await events.ClosedAsync();
        Assert.Equal(1006, closed.Code);
        Assert.True(closed.WillReconnect);
        await events.ReconnectedAsync();
    }

    [Fact]
    public async Task Connect_gives_up_when_the_server_is_not_there()
    {
        await using var client = new BrokerClient(new BrokerClientOptions
        {
            Url = new Uri("ws://127.0.0.1:1/ws/chat"),
            TokenProvider = _ => ValueTask.FromResult("t"),
            RequestTimeout = Timeout,
        });

        var error = await Assert.ThrowsAsync<BrokerException>(() => client.ConnectAsync().WaitAsync(Timeout));

        Assert.Equal(BrokerException.Disconnected, error.Code);
        Assert.Equal(BrokerClientState.Closed, client.State);
    }

    [Fact]
    public async Task Reconnection_gives_up_after_max_attempts()
    {
        await using var client = new BrokerClient(new BrokerClientOptions
        {
            Url = _server.Url,
            TokenProvider = _ => ValueTask.FromResult("t"),
            RequestTimeout = Timeout,
            Reconnect = new ReconnectOptions { InitialDelay = TimeSpan.FromMilliseconds(10), MaxDelay = TimeSpan.FromMilliseconds(20), MaxAttempts = 3 },
        });
        var events = new ClientEvents(client);
        await _server.ConnectAsync(client);

        await _server.DisposeAsync(); // the server is gone for good

        Assert.True((await events.ClosedAsync()).WillReconnect);
        var final = await events.ClosedAsync();
        Assert.False(final.WillReconnect);
        Assert.Contains("3 reconnection attempts", final.Reason);
        Assert.Equal(BrokerClientState.Closed, client.State);
    }
}
