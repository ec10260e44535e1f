using Broker.Client;
using Broker.Client.Protocol;

namespace Broker.Tests.Client;

/// <summary>
/// PROTOCOL 1.1 §9.1 on the client, against a <see cref="ScriptedServer"/>: the epoch in a publish's
/// ack, the resync of a room that lost its history while joined (new-epoch messages, then a
/// <c>joined</c> without an id), and transparent retries of requests answered <c>unavailable</c>;
/// the Idempotency part: §9.2's publish keys, the same on every retry.
/// </summary>
public sealed partial class ResyncAndRetryTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = ClientEvents.Timeout;

    private ScriptedServer _server = null!;

    public async Task InitializeAsync() => _server = await ScriptedServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private BrokerClient NewClient(RetryOptions? retry = null) => new(new BrokerClientOptions
    {
        Url = _server.Url,
        TokenProvider = _ => ValueTask.FromResult("token"),
        RequestTimeout = Timeout,
        Reconnect = new ReconnectOptions { InitialDelay = TimeSpan.FromMilliseconds(20), MaxDelay = TimeSpan.FromMilliseconds(100) },
        Retry = retry ?? new RetryOptions { InitialDelay = TimeSpan.FromMilliseconds(10), MaxDelay = TimeSpan.FromMilliseconds(50) },
    });

    private async Task<(BrokerClient Client, ClientEvents Events, ServerSide Side)> ConnectedAsync(RetryOptions? retry = null)
    {
        var client = NewClient(retry);
        var events = new ClientEvents(client);
        var side = await _server.ConnectAsync(client);
        return (client, events, side);
    }

    private static async Task JoinAsync(BrokerClient client, ServerSide side, string room, string epoch, long offset)
    {
        var join = client.JoinAsync(room);
        await side.AnswerJoinAsync(epoch, offset, recovered: false);
        await join.WaitAsync(Timeout);
    }

    private static Task ResyncAsync(ServerSide side, string room, string epoch, long offset) =>
        side.SendAsync(JsonSerializer.Serialize(new { type = "joined", data = new { room, epoch, offset, members = new[] { "u", "v" }, recovered = false } }));

    private static Task UnavailableAsync(ServerSide side, JsonElement request) =>
        side.SendAsync(JsonSerializer.Serialize(new { type = "error", id = request.GetProperty("id").GetString(), data = new { code = "unavailable", message = "room moving" } }));

    private static string Id(JsonElement frame) => frame.GetProperty("id").GetString()!;

    [Fact]
    public async Task Publish_with_ack_returns_the_epoch_and_null_from_a_server_whose_ack_lacks_it()
    {
        var (client, _, side) = await ConnectedAsync();
        await using var owned = client;

        var withEpoch = client.PublishWithAckAsync("room-p", "1"u8.ToArray());
        await side.SendAsync($$$"""{"type":"ack","id":"{{{Id(await side.ReceiveAsync("publish"))}}}","data":{"offset":7,"epoch":"e-7"}}""");
        Assert.Equal(new PublishAck(7, "e-7"), await withEpoch.WaitAsync(Timeout));

        var older = client.PublishWithAckAsync("room-p", JsonDocument.Parse("2").RootElement);
        await side.SendAsync($$$"""{"type":"ack","id":"{{{Id(await side.ReceiveAsync("publish"))}}}","data":{"offset":8}}""");
        Assert.Equal(new PublishAck(8, null), await older.WaitAsync(Timeout));

        var plain = client.PublishAsync("room-p", "3"u8.ToArray());
        await side.SendAsync($$$"""{"type":"ack","id":"{{{Id(await side.ReceiveAsync("publish"))}}}","data":{"offset":9,"epoch":"e-7"}}""");
        Assert.Equal(9, await plain.WaitAsync(Timeout));
    }

    [Fact]
    public async Task A_resync_delivers_the_new_epoch_in_order_moves_the_cursor_and_the_next_rejoin_resumes_from_it()
    {
        var (client, events, first) = await ConnectedAsync();
        await using var owned = client;
        await JoinAsync(client, first, "room-r", "e1", 40);
        await first.MessageAsync("room-r", "e1", 41);

        // The room's host died: every message of the new epoch from 1, then joined without an id.
        await first.MessageAsync("room-r", "e2", 1);
        await first.MessageAsync("room-r", "e1", 42); // a late copy from the lost history
        await first.MessageAsync("room-r", "e2", 2);
        await ResyncAsync(first, "room-r", "e2", 2);
        await first.MessageAsync("room-r", "e2", 2); // a live copy of what the resync delivered
        await first.MessageAsync("room-r", "e2", 3);

        var received = new List<(string?, long)>();
        for (var i = 0; i < 4; i++)
        {
            var m = await events.MessageAsync();
            received.Add((m.Epoch, m.Offset));
        }
        Assert.Equal([("e1", 41L), ("e2", 1L), ("e2", 2L), ("e2", 3L)], received);
        Assert.Equal(new RoomResynced("room-r", "e2", 2, Recovered: false), await events.ResyncedAsync());
        Assert.False(events.TryTakeRecovered(out _), "a resync is not a rejoin");

        first.Abort();
        var second = await _server.AcceptAuthenticatedAsync();
        var rejoin = await second.AnswerJoinAsync("e2", 3, recovered: true);
        var since = rejoin.GetProperty("data").GetProperty("since");
        Assert.Equal(("e2", 3L), (since.GetProperty("epoch").GetString(), since.GetProperty("offset").GetInt64()));
        Assert.Equal(new RoomRecovered("room-r", Recovered: true, EpochChanged: false, Missed: 0), await events.RecoveredAsync());
        Assert.False(events.TryTakeMessage(out var extra), $"unexpected {extra.Epoch}:{extra.Offset}");
    }

    [Fact]
    public async Task A_joined_without_an_id_for_a_room_not_joined_is_ignored()
    {
        var (client, events, side) = await ConnectedAsync();
        await using var owned = client;
        await JoinAsync(client, side, "room-kept", "e1", 0);

        await ResyncAsync(side, "room-never", "e9", 4);
        await ResyncAsync(side, "room-kept", "e2", 0); // a marker: frames are handled in order

        Assert.Equal("room-kept", (await events.ResyncedAsync()).Room);
        Assert.Equal(["room-kept"], client.Rooms);
    }

    [Fact]
    public async Task A_publish_answered_unavailable_is_sent_again_until_acknowledged()
    {
        var (client, events, side) = await ConnectedAsync();
        await using var owned = client;

        var publish = client.PublishWithAckAsync("room-u", "{}"u8.ToArray());
        await UnavailableAsync(side, await side.ReceiveAsync("publish"));
        await UnavailableAsync(side, await side.ReceiveAsync("publish"));
        var third = await side.ReceiveAsync("publish");
        Assert.Equal("room-u", third.GetProperty("data").GetProperty("room").GetString());
        await side.SendAsync($$$"""{"type":"ack","id":"{{{Id(third)}}}","data":{"offset":1,"epoch":"e1"}}""");

        Assert.Equal(new PublishAck(1, "e1"), await publish.WaitAsync(Timeout));
        Assert.False(events.TryTakeClosed(out _), "the retries kept the connection");
    }

    [Fact]
    public async Task Join_and_send_are_retried_too()
    {
        var (client, _, side) = await ConnectedAsync();
        await using var owned = client;

        var join = client.JoinAsync("room-j");
        await UnavailableAsync(side, await side.ReceiveAsync("join"));
        await side.AnswerJoinAsync("e1", 5, recovered: false);
        Assert.Equal(5, (await join.WaitAsync(Timeout)).Offset);
        Assert.Equal(["room-j"], client.Rooms);

        var send = client.SendAsync("bob", "1"u8.ToArray());
        await UnavailableAsync(side, await side.ReceiveAsync("send"));
        await side.SendAsync($$$"""{"type":"ack","id":"{{{Id(await side.ReceiveAsync("send"))}}}","data":{"delivered":2}}""");
        Assert.Equal(2, await send.WaitAsync(Timeout));
    }

    [Fact]
    public async Task After_max_attempts_the_request_fails_with_the_last_unavailable()
    {
        var (client, _, side) = await ConnectedAsync(new RetryOptions { InitialDelay = TimeSpan.FromMilliseconds(5), MaxDelay = TimeSpan.FromMilliseconds(5), MaxAttempts = 3 });
        await using var owned = client;

        var publish = client.PublishAsync("room-x", "1"u8.ToArray());
        for (var i = 0; i < 3; i++) await UnavailableAsync(side, await side.ReceiveAsync("publish"));

        var error = await Assert.ThrowsAsync<BrokerException>(() => publish.WaitAsync(Timeout));
        Assert.Equal(ErrorCodes.Unavailable, error.Code);
        Assert.Equal("room moving", error.Message);
        _ = client.PingAsync(); // never answered: it only proves no fourth publish came before it
        Assert.Equal("ping", (await side.ReceiveAsync()).GetProperty("type").GetString());
    }

    [Theory]
    [InlineData("forbidden")]
    [InlineData("rate_limited")]
    [InlineData("internal")]
    public async Task Other_errors_are_not_retried(string code)
    {
        var (client, _, side) = await ConnectedAsync();
        await using var owned = client;

        var publish = client.PublishAsync("room-f", "1"u8.ToArray());
        var frame = await side.ReceiveAsync("publish");
        await side.SendAsync($$$"""{"type":"error","id":"{{{Id(frame)}}}","data":{"code":"{{{code}}}","message":"no"}}""");

        Assert.Equal(code, (await Assert.ThrowsAsync<BrokerException>(() => publish.WaitAsync(Timeout))).Code);
        _ = client.PingAsync(); // never answered: it only proves no retry came before it
        Assert.Equal("ping", (await side.ReceiveAsync()).GetProperty("type").GetString());
    }

    [Fact]
    public async Task A_rejoin_answered_unavailable_is_retried_and_the_room_recovers()
    {
        var (client, events, first) = await ConnectedAsync();
        await using var owned = client;
        await JoinAsync(client, first, "room-rj", "e1", 3);

        await first.CloseAsync(CloseCodes.GoingAway);
        var second = await _server.AcceptAuthenticatedAsync();
        await UnavailableAsync(second, await second.ReceiveAsync("join"));
        var retry = await second.AnswerJoinAsync("e1", 3, recovered: true);

        Assert.Equal(3, retry.GetProperty("data").GetProperty("since").GetProperty("offset").GetInt64());
        Assert.Equal(new RoomRecovered("room-rj", Recovered: true, EpochChanged: false, Missed: 0), await events.RecoveredAsync());
        Assert.Equal(["room-rj"], client.Rooms);
    }

    [Fact]
    public async Task Retries_can_be_turned_off()
    {
        var (client, _, side) = await ConnectedAsync(new RetryOptions { Enabled = false });
        await using var owned = client;

        var publish = client.PublishAsync("room-off", "1"u8.ToArray());
        await UnavailableAsync(side, await side.ReceiveAsync("publish"));

        Assert.Equal(ErrorCodes.Unavailable, (await Assert.ThrowsAsync<BrokerException>(() => publish.WaitAsync(Timeout))).Code);
    }
}
