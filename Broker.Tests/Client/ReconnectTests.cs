using System.Text;
using Broker.Client;
using Broker.Tests.Integration;

namespace Broker.Tests.Client;

/// <summary>Drops between the client and the broker (through <see cref="TcpProxy"/>): reconnect, rejoin, replay, no duplicates.</summary>
public sealed class ReconnectTests(SharedHostFixture fixture) : IClassFixture<SharedHostFixture>
{
    private static readonly TimeSpan Timeout = ClientEvents.Timeout;

    private BrokerTestHost Host => fixture.Host;

    internal static BrokerClient NewClient(Uri url, string user, TimeSpan? requestTimeout = null) => new(new BrokerClientOptions
    {
        Url = url,
        TokenProvider = _ => ValueTask.FromResult(TestTokens.Valid(user)),
        RequestTimeout = requestTimeout ?? Timeout,
        Reconnect = new ReconnectOptions { InitialDelay = TimeSpan.FromMilliseconds(50), MaxDelay = TimeSpan.FromMilliseconds(500) },
    });

    private static ReadOnlyMemory<byte> Json(string json) => Encoding.UTF8.GetBytes(json);

    private static string Text(RoomMessage message) => Encoding.UTF8.GetString(message.Payload.Span);

    [Fact]
    public async Task After_a_drop_the_client_reconnects_rejoins_and_receives_the_missed_messages_in_order_once()
    {
        await using var proxy = new TcpProxy(Host);
        await using var alice = NewClient(proxy.WebSocketUri("chat"), "recover-alice");
        await using var bob = NewClient(Host.WebSocketUri("chat"), "recover-bob");
        var events = new ClientEvents(alice);
        await alice.ConnectAsync().WaitAsync(Timeout);
        await bob.ConnectAsync().WaitAsync(Timeout);
        await alice.JoinAsync("client-recover").WaitAsync(Timeout);
        await bob.JoinAsync("client-recover").WaitAsync(Timeout);
        await bob.PublishAsync("client-recover", Json("1")).WaitAsync(Timeout);
        Assert.Equal("1", Text(await events.MessageAsync()));
        var firstConnection = alice.Welcome!.Connection;

        // Drop, and keep the client from getting back in while the room moves on.
        proxy.Blackhole = true;
        await proxy.DropAllAsync().WaitAsync(Timeout);
        var closed = await events.ClosedAsync();
        Assert.True(closed.WillReconnect);
        Assert.Equal(BrokerClientState.Reconnecting, alice.State);
        for (var i = 2; i <= 4; i++) await bob.PublishAsync("client-recover", Json(i.ToString())).WaitAsync(Timeout);
        var queued = alice.PublishAsync("client-recover", Json("5")); // waits for the reconnection
        proxy.Blackhole = false;
        await proxy.DropAllAsync().WaitAsync(Timeout); // ends the attempt stuck in the black hole

        var recovered = await events.RecoveredAsync();
        Assert.Equal(new RoomRecovered("client-recover", Recovered: true, EpochChanged: false, Missed: 3), recovered);
        var queuedOffset = await queued.WaitAsync(Timeout);
        await bob.PublishAsync("client-recover", Json("6")).WaitAsync(Timeout);
        var received = new List<RoomMessage>();
        for (var i = 2; i <= 6; i++) received.Add(await events.MessageAsync());

        Assert.Equal(["2", "3", "4", "5", "6"], received.Select(Text));
        Assert.Equal(Enumerable.Range(2, 5).Select(i => (long)i), received.Select(m => m.Offset));
        Assert.Equal(5, queuedOffset);
        Assert.NotEqual(firstConnection, alice.Welcome!.Connection);
        Assert.Equal(BrokerClientState.Connected, alice.State);
        Assert.False(events.TryTakeMessage(out _));
    }

    [Fact]
    public async Task A_request_in_flight_when_the_connection_drops_fails_with_disconnected()
    {
        await using var proxy = new TcpProxy(Host);
        await using var client = NewClient(proxy.WebSocketUri("chat"), "in-flight");
        var events = new ClientEvents(client);
        await client.ConnectAsync().WaitAsync(Timeout);

        proxy.Blackhole = true; // the ping goes out but its pong never comes back
        var ping = client.PingAsync();
        await proxy.DropAllAsync().WaitAsync(Timeout);

        var error = await Assert.ThrowsAsync<BrokerException>(() => ping.WaitAsync(Timeout));
        Assert.Equal(BrokerException.Disconnected, error.Code);
        proxy.Blackhole = false;
        await proxy.DropAllAsync().WaitAsync(Timeout);
        await events.ReconnectedAsync();
        await client.PingAsync().WaitAsync(Timeout);
    }
}
