using System.Net;
using System.Text;
using Broker.Client;
using Broker.Tests.Integration;

namespace Broker.Tests.Client;

/// <summary>
/// The .NET client's SSE fallback (PROTOCOL §9.4) against the real broker: the switch when a
/// WebSocket cannot open, chat with WebSocket clients, recovery with <c>since</c> after a drop,
/// and tickets (pings answered by POSTed pongs while the token is refreshed: TokenRefreshTests).
/// </summary>
public sealed class SseFallbackTests(SharedHostFixture fixture) : IClassFixture<SharedHostFixture>
{
    private static readonly TimeSpan Timeout = ClientEvents.Timeout;

    private BrokerTestHost Host => fixture.Host;

    /// <summary>
    /// Every WebSocket goes through a proxy that refuses connections (nothing listens on its port),
    /// as behind one that strips <c>Upgrade</c>: the socket never opens. SSE, on HttpClient, goes direct.
    /// </summary>
    private static void BlockWebSockets(System.Net.WebSockets.ClientWebSocketOptions options) =>
        options.Proxy = new WebProxy(new Uri($"http://127.0.0.1:{UnusedPort()}")) { BypassProxyOnLocal = false };

    private static int UnusedPort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    internal static BrokerClient NewClient(Uri url, string user, BrokerTransport transport, bool blockWebSockets = false,
        BrokerAuthentication authentication = BrokerAuthentication.FirstMessage) => new(new BrokerClientOptions
    {
        Url = url,
        TokenProvider = _ => ValueTask.FromResult(TestTokens.Valid(user)),
        Authentication = authentication,
        Transport = transport,
        ConfigureWebSocket = blockWebSockets ? BlockWebSockets : null,
        RequestTimeout = Timeout,
        Reconnect = new ReconnectOptions { InitialDelay = TimeSpan.FromMilliseconds(50), MaxDelay = TimeSpan.FromMilliseconds(500) },
    });

    private static ReadOnlyMemory<byte> Json(string json) => Encoding.UTF8.GetBytes(json);

    private static string Text(RoomMessage message) => Encoding.UTF8.GetString(message.Payload.Span);

    [Fact]
    public async Task Auto_falls_back_to_SSE_when_WebSockets_cannot_open_and_chats_both_ways_with_a_WebSocket_client()
    {
        await using var alice = NewClient(Host.WebSocketUri("chat"), "sse-fallback-alice", BrokerTransport.Auto, blockWebSockets: true);
        await using var bob = NewClient(Host.WebSocketUri("chat"), "sse-fallback-bob", BrokerTransport.Auto);
        var aliceEvents = new ClientEvents(alice);
        var bobEvents = new ClientEvents(bob);

        var welcome = await alice.ConnectAsync().WaitAsync(Timeout);
        await bob.ConnectAsync().WaitAsync(Timeout);

        Assert.Equal("sse-fallback-alice", welcome.User);
        Assert.Equal(BrokerTransport.Sse, alice.Transport);
        Assert.Equal(BrokerTransport.WebSocket, bob.Transport);
        await alice.JoinAsync("client-sse-chat").WaitAsync(Timeout);
        await bob.JoinAsync("client-sse-chat").WaitAsync(Timeout);
        var fromAlice = await alice.PublishAsync("client-sse-chat", Json("""{"text":"over SSE"}""")).WaitAsync(Timeout);
        var fromBob = await bob.PublishAsync("client-sse-chat", Json("""{"text":"over a WebSocket"}""")).WaitAsync(Timeout);

        Assert.Equal(fromAlice, (await bobEvents.MessageAsync()).Offset);
        Assert.Equal(fromBob, (await bobEvents.MessageAsync()).Offset);
        Assert.Equal(["""{"text":"over SSE"}""", """{"text":"over a WebSocket"}"""], [Text(await aliceEvents.MessageAsync()), Text(await aliceEvents.MessageAsync())]);
        Assert.Equal(1, await bob.SendAsync("sse-fallback-alice", Json("\"psst\"")).WaitAsync(Timeout));
        Assert.Equal("\"psst\"", Encoding.UTF8.GetString((await aliceEvents.DirectAsync()).Payload.Span));
        await alice.PingAsync().WaitAsync(Timeout);
        Assert.False(aliceEvents.TryTakeClosed(out var closed), $"closed: {closed}");
    }

    [Fact]
    public async Task A_WebSocket_that_opens_is_kept_by_auto()
    {
        await using var client = NewClient(Host.WebSocketUri("chat"), "sse-auto-ws", BrokerTransport.Auto);
        await client.ConnectAsync().WaitAsync(Timeout);
        Assert.Equal(BrokerTransport.WebSocket, client.Transport);
    }

    [Fact]
    public async Task Transport_WebSocket_never_falls_back()
    {
        await using var client = NewClient(Host.WebSocketUri("chat"), "sse-never", BrokerTransport.WebSocket, blockWebSockets: true);
        await Assert.ThrowsAsync<BrokerException>(() => client.ConnectAsync().WaitAsync(Timeout + Timeout));
        Assert.Equal(BrokerClientState.Closed, client.State);
        Assert.Equal(BrokerTransport.WebSocket, client.Transport);
    }

    [Fact]
    public async Task Over_SSE_with_a_ticket_a_drop_reconnects_rejoins_with_since_and_recovers_the_missed_messages_once()
    {
        await using var proxy = new TcpProxy(Host);
        await using var alice = NewClient(proxy.WebSocketUri("chat"), "sse-recover-alice", BrokerTransport.Sse, authentication: BrokerAuthentication.Ticket);
        await using var bob = NewClient(Host.WebSocketUri("chat"), "sse-recover-bob", BrokerTransport.WebSocket);
        var events = new ClientEvents(alice);
        await alice.ConnectAsync().WaitAsync(Timeout);
        await bob.ConnectAsync().WaitAsync(Timeout);
        Assert.Equal(BrokerTransport.Sse, alice.Transport);
        await alice.JoinAsync("client-sse-recover").WaitAsync(Timeout);
        await bob.JoinAsync("client-sse-recover").WaitAsync(Timeout);
        await bob.PublishAsync("client-sse-recover", Json("1")).WaitAsync(Timeout);
        Assert.Equal("1", Text(await events.MessageAsync()));
        var firstConnection = alice.Welcome!.Connection;

        // Drop the stream, and keep the client out while the room moves on.
        proxy.Blackhole = true;
        await proxy.DropAllAsync().WaitAsync(Timeout);
        Assert.True((await events.ClosedAsync()).WillReconnect);
        for (var i = 2; i <= 4; i++) await bob.PublishAsync("client-sse-recover", Json(i.ToString())).WaitAsync(Timeout);
        var queued = alice.PublishAsync("client-sse-recover", Json("5")); // waits for the reconnection
        proxy.Blackhole = false;
        await proxy.DropAllAsync().WaitAsync(Timeout);

        var recovered = await events.RecoveredAsync();
        Assert.Equal(new RoomRecovered("client-sse-recover", Recovered: true, EpochChanged: false, Missed: 3), recovered);
        await queued.WaitAsync(Timeout);
        var received = new List<string>();
        for (var i = 2; i <= 5; i++) received.Add(Text(await events.MessageAsync()));
        Assert.Equal(["2", "3", "4", "5"], received);
        Assert.NotEqual(firstConnection, alice.Welcome!.Connection);
        Assert.Equal(BrokerTransport.Sse, alice.Transport);
    }

    [Fact]
    public async Task A_message_larger_than_the_read_buffer_arrives_whole_over_SSE()
    {
        await using var alice = NewClient(Host.WebSocketUri("chat"), "sse-big-alice", BrokerTransport.Sse);
        var events = new ClientEvents(alice);
        await alice.ConnectAsync().WaitAsync(Timeout);
        await alice.JoinAsync("client-sse-big").WaitAsync(Timeout);
        var text = new string('x', 40_000); // one data: line over the 16 KiB the stream is first read with

        await alice.PublishAsync("client-sse-big", Json($"\"{text}\"")).WaitAsync(Timeout);

        Assert.Equal($"\"{text}\"", Text(await events.MessageAsync()));
        await alice.PingAsync().WaitAsync(Timeout);
    }

    [Fact]
    public async Task Many_frames_sent_at_once_arrive_in_order()
    {
        await using var alice = NewClient(Host.WebSocketUri("chat"), "sse-burst-alice", BrokerTransport.Sse);
        await using var bob = NewClient(Host.WebSocketUri("chat"), "sse-burst-bob", BrokerTransport.WebSocket);
        var events = new ClientEvents(bob);
        await alice.ConnectAsync().WaitAsync(Timeout);
        await bob.ConnectAsync().WaitAsync(Timeout);
        await alice.JoinAsync("client-sse-burst").WaitAsync(Timeout);
        await bob.JoinAsync("client-sse-burst").WaitAsync(Timeout);

        // More than one POST holds (100 envelopes), started together: batched, one POST at a time, in call order.
        var publishes = Enumerable.Range(1, 150).Select(i => alice.PublishAsync("client-sse-burst", Json(i.ToString()))).ToList();
        var offsets = await Task.WhenAll(publishes).WaitAsync(Timeout);

        Assert.Equal(offsets.Order(), offsets);
        var received = new List<string>();
        for (var i = 0; i < 150; i++) received.Add(Text(await events.MessageAsync()));
        Assert.Equal(Enumerable.Range(1, 150).Select(i => i.ToString()), received);
    }
}
