using System.Net.WebSockets;
using PrometheusScrape = Broker.Tests.Observability.PrometheusScrape;

namespace Broker.Tests.Integration;

/// <summary>
/// A host with write batching as configured by the subclass, and two routes of its own (one
/// compressed), so the route-tagged <c>broker_socket_flushes_total</c> moves only by its tests.
/// </summary>
public abstract class WriteBatchingHostFixture : HostFixture
{
    public string Route { get; } = "wb-" + Guid.NewGuid().ToString("N")[..8];
    public string CompressedRoute { get; } = "wbz-" + Guid.NewGuid().ToString("N")[..8];

    protected virtual int WriteBatchFrames => 256;

    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        [$"Broker:Routes:{Route}:AllowPublish"] = "true",
        [$"Broker:Routes:{CompressedRoute}:AllowPublish"] = "true",
        [$"Broker:Routes:{CompressedRoute}:Compression"] = "true",
        ["Broker:Limits:WriteBatchFrames"] = WriteBatchFrames.ToString(),
        // A reader rejoins as fast as it can for a while: no inbound or per-user join limit in the way.
        ["Broker:Limits:RatePerSecond"] = "100000",
        ["Broker:Limits:RateBurst"] = "100000",
        ["Broker:Limits:JoinsPerSecondPerUser"] = "100000",
        ["Broker:Limits:JoinBurstPerUser"] = "100000",
    };
}

/// <summary>The defaults: batching on.</summary>
public sealed class BatchingHostFixture : WriteBatchingHostFixture;

/// <summary><c>Broker:Limits:WriteBatchFrames = 1</c>: every frame its own write and flush, as before batching.</summary>
public sealed class UnbatchedHostFixture : WriteBatchingHostFixture
{
    protected override int WriteBatchFrames => 1;
}

/// <summary>
/// An embedding app that calls <c>UseWebSockets()</c> itself before <c>MapBroker()</c>: the broker's
/// upgrade wrapper comes too late to be captured, so its sockets are served frame by frame.
/// </summary>
public sealed class OwnWebSocketsHostFixture : WriteBatchingHostFixture
{
    protected override Action<Microsoft.AspNetCore.Builder.WebApplication>? BeforeBroker =>
        app => Microsoft.AspNetCore.Builder.WebSocketMiddlewareExtensions.UseWebSockets(app);
}

/// <summary>
/// #15: the frames already queued for a socket go out in one write and flush, each still its own
/// WebSocket message. The burst is a rejoin's replay: 100 messages and the <c>joined</c> queued on
/// the socket at once by the room hub.
/// </summary>
public abstract class WriteBatchingTests(WriteBatchingHostFixture fixture)
{
    protected const int Burst = 100; // Broker:Rooms:HistorySize

    protected BrokerTestHost Host => fixture.Host;
    protected WriteBatchingHostFixture Fixture => fixture;

    /// <summary>Fills a room's history with <see cref="Burst"/> messages; returns its epoch.</summary>
    protected async Task<string> FillHistoryAsync(string route, string room)
    {
        await using var publisher = await TestClient.ConnectAsync(Host.WebSocketUri(route));
        await publisher.AuthenticateAsync(TestTokens.Valid("wb-publisher"));
        var joined = await JoinAsync(publisher, room, since: null);
        for (var n = 1; n <= Burst; n++)
        {
            var id = publisher.NextId("pub");
            await publisher.SendAsync("publish", id, new JsonObject { ["room"] = room, ["payload"] = new JsonObject { ["n"] = n } });
            await publisher.ReceiveAsync("ack", id);
        }
        return joined.Data().GetProperty("epoch").GetString()!;
    }

    /// <summary>Joins <paramref name="room"/>, from offset 0 of <paramref name="since"/>'s epoch when given; returns <c>joined</c>.</summary>
    protected static async Task<JsonElement> JoinAsync(TestClient client, string room, string? since)
    {
        var id = client.NextId("join");
        var data = new JsonObject { ["room"] = room };
        if (since is not null) data["since"] = new JsonObject { ["epoch"] = since, ["offset"] = 0 };
        await client.SendAsync("join", id, data);
        return await client.ReceiveAsync("joined", id);
    }

    /// <summary>Rejoins from offset 0 and checks the replay: every message once, in order, then <c>joined</c>.</summary>
    protected static async Task ReceiveReplayAsync(TestClient client, string room, string epoch)
    {
        var id = client.NextId("join");
        await client.SendAsync("join", id, new JsonObject { ["room"] = room, ["since"] = new JsonObject { ["epoch"] = epoch, ["offset"] = 0 } });
        for (var n = 1; n <= Burst; n++)
        {
            var message = await client.ReceiveAsync();
            Assert.True(message.Type() == "message", $"expected message {n}, got {message}");
            Assert.Equal(n, message.Data().GetProperty("offset").GetInt64());
            Assert.Equal(n, message.Data().GetProperty("payload").GetProperty("n").GetInt32());
        }
        var joined = await client.ReceiveAsync();
        Assert.True(joined.Type() == "joined" && joined.Id() == id, $"expected joined, got {joined}");
        Assert.True(joined.Data().GetProperty("recovered").GetBoolean());
    }

    /// <summary>
    /// The flushes counted for <paramref name="route"/> so far. Counted when a write loop's drain
    /// ends, so two ping round trips first: the second ping is read only after the first pong went
    /// out, and by then the drain that held the burst has ended and been counted.
    /// </summary>
    protected async Task<double> FlushesAsync(string route, TestClient? settle = null)
    {
        if (settle is not null)
        {
            await settle.PingPongAsync();
            await settle.PingPongAsync();
        }
        var response = await Host.Http.GetAsync("metrics");
        response.EnsureSuccessStatusCode();
        return PrometheusScrape.Parse(await response.Content.ReadAsStringAsync()).Sum("broker_socket_flushes_total", "route=" + route);
    }

    /// <summary>A replayed burst arrives whole and in order, one flush per frame (101 frames of the burst + at least the first pong).</summary>
    protected async Task AssertEveryFrameIsItsOwnFlushAsync()
    {
        var epoch = await FillHistoryAsync(Fixture.Route, "burst");
        await using var reader = await Host.ConnectAuthenticatedAsync("wb-reader", Fixture.Route);
        var before = await FlushesAsync(Fixture.Route);

        await ReceiveReplayAsync(reader, "burst", epoch);

        var flushes = await FlushesAsync(Fixture.Route, settle: reader) - before;
        Assert.True(flushes >= Burst + 2, $"{flushes} flushes for {Burst + 3} frames");
    }

    protected static void OfferDeflate(ClientWebSocketOptions options) => options.DangerousDeflateOptions = new WebSocketDeflateOptions();
}

public sealed class BatchedWriteTests(BatchingHostFixture fixture) : WriteBatchingTests(fixture), IClassFixture<BatchingHostFixture>
{
    [Fact]
    public async Task A_burst_to_one_socket_arrives_complete_and_in_order_in_fewer_flushes_than_frames()
    {
        var epoch = await FillHistoryAsync(Fixture.Route, "burst");
        await using var reader = await Host.ConnectAuthenticatedAsync("wb-reader", Fixture.Route);
        var before = await FlushesAsync(Fixture.Route);

        await ReceiveReplayAsync(reader, "burst", epoch);

        // 101 frames of the burst + 2 pongs; one flush each without batching.
        var flushes = await FlushesAsync(Fixture.Route, settle: reader) - before;
        Assert.True(flushes < (Burst + 3) / 2.0, $"{flushes} flushes for {Burst + 3} frames");
    }

    [Fact]
    public async Task A_compressed_route_still_delivers_a_burst_whole_and_in_order_when_batched()
    {
        var epoch = await FillHistoryAsync(Fixture.CompressedRoute, "zburst");
        await using var reader = await TestClient.ConnectAsync(Host.WebSocketUri(Fixture.CompressedRoute), configure: OfferDeflate);
        Assert.Contains("permessage-deflate", string.Join(",", reader.ResponseHeaders?.GetValueOrDefault("Sec-WebSocket-Extensions") ?? []));
        await reader.AuthenticateAsync(TestTokens.Valid("wb-zreader"));
        var before = await FlushesAsync(Fixture.CompressedRoute);

        await ReceiveReplayAsync(reader, "zburst", epoch);

        var flushes = await FlushesAsync(Fixture.CompressedRoute, settle: reader) - before;
        Assert.True(flushes < (Burst + 3) / 2.0, $"{flushes} flushes for {Burst + 3} frames");
    }

    [Fact]
    public async Task Protocol_pings_are_answered_while_bursts_are_batched_and_the_server_close_code_arrives()
    {
        var epoch = await FillHistoryAsync(Fixture.Route, "pinged");
        // The client pings at the WebSocket level every 20 ms and gives up on a pong missing for
        // 1 s: the pongs the server's socket writes on its own must get through the batches.
        await using var reader = await TestClient.ConnectAsync(Host.WebSocketUri(Fixture.Route), configure: o =>
        {
            o.KeepAliveInterval = TimeSpan.FromMilliseconds(20);
            o.KeepAliveTimeout = TimeSpan.FromSeconds(1);
        });
        await reader.AuthenticateAsync(TestTokens.Valid("wb-pinged"));
        var started = DateTime.UtcNow;
        var bursts = 0;
        while (DateTime.UtcNow - started < TimeSpan.FromSeconds(2))
        {
            await ReceiveReplayAsync(reader, "pinged", epoch);
            bursts++;
        }
        Assert.Equal(WebSocketState.Open, reader.State);
        Assert.True(bursts > 1);

        // The server's own close (an operator disconnect, 4500) reaches the client with its code.
        var response = await Host.Http.SendAsync(new HttpRequestMessage(HttpMethod.Post, "api/users/wb-pinged/disconnect")
        {
            Headers = { Authorization = new("Bearer", TestTokens.Create("backend", extraClaims: new Dictionary<string, object> { ["scope"] = "broker:publish" })) },
        });
        response.EnsureSuccessStatusCode();
        var close = await reader.ExpectCloseAsync();
        Assert.True(close.Status == 4500, close.ToString());
    }
}

public sealed class UnbatchedWriteTests(UnbatchedHostFixture fixture) : WriteBatchingTests(fixture), IClassFixture<UnbatchedHostFixture>
{
    [Fact]
    public Task With_batching_off_every_frame_is_its_own_flush()
        => AssertEveryFrameIsItsOwnFlushAsync();
}

public sealed class OwnWebSocketsWriteTests(OwnWebSocketsHostFixture fixture) : WriteBatchingTests(fixture), IClassFixture<OwnWebSocketsHostFixture>
{
    [Fact]
    public Task An_app_that_calls_UseWebSockets_before_MapBroker_is_served_whole_and_in_order_unbatched()
        => AssertEveryFrameIsItsOwnFlushAsync();
}
