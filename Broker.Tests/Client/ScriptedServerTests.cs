using System.Text;
using Broker.Client;
using Broker.Client.Protocol;
using Xunit;

namespace Broker.Tests.Client;

/// <summary>
/// The client's side of §5 and §6 against a <see cref="ScriptedServer"/>: which close codes end it,
/// which reconnect, the one retry after 4401, replay with duplicates, epoch changes, the frame size
/// guard, heartbeat answers, timeouts.
/// </summary>
public sealed class ScriptedServerTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = ClientEvents.Timeout;

    private ScriptedServer _server = null!;
    private int _tokens;

    public async Task InitializeAsync() => _server = await ScriptedServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private BrokerClient NewClient(TimeSpan? requestTimeout = null, int maxFrameBytes = 1024 * 1024) => new(new BrokerClientOptions
    {
        Url = _server.Url,
        TokenProvider = _ => ValueTask.FromResult("token-" + Interlocked.Increment(ref _tokens)),
        RequestTimeout = requestTimeout ?? Timeout,
        MaxFrameBytes = maxFrameBytes,
        Reconnect = new ReconnectOptions { InitialDelay = TimeSpan.FromMilliseconds(20), MaxDelay = TimeSpan.FromMilliseconds(100) },
    });

    [Theory]
    [InlineData(1000)]
    [InlineData(4403)]
    [InlineData(4000)]
    public async Task A_close_that_forbids_reconnecting_ends_the_client(int code)
    {
        await using var client = NewClient();
        var events = new ClientEvents(client);
        var connect = client.ConnectAsync();
        var side = await _server.AcceptAuthenticatedAsync();
        await connect.WaitAsync(Timeout);

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
        var connect = client.ConnectAsync();
        var first = await _server.AcceptAuthenticatedAsync();
        await connect.WaitAsync(Timeout);

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
        var connect = client.ConnectAsync();
        var first = await _server.AcceptAuthenticatedAsync();
        await connect.WaitAsync(Timeout);

        first.Abort();
        await _server.AcceptAuthenticatedAsync();

        var closed = await events.ClosedAsync();
        Assert.Equal(1006, closed.Code);
        Assert.True(closed.WillReconnect);
        await events.ReconnectedAsync();
    }

    [Fact]
    public async Task A_4401_gets_one_retry_with_a_new_token_then_the_client_closes()
    {
        await using var client = NewClient();
        var events = new ClientEvents(client);
        var connect = client.ConnectAsync();
        var first = await _server.AcceptAuthenticatedAsync();
        await connect.WaitAsync(Timeout);

        await first.CloseAsync(Close.TokenExpired.Code, Close.TokenExpired.Reason);
        var retry = await _server.AcceptAsync();
        var auth = await retry.ReceiveAsync("auth");
        Assert.Equal("token-2", auth.GetProperty("data").GetProperty("token").GetString());
        await retry.SendAsync("""{"type":"error","data":{"code":"unauthorized","message":"invalid token"}}""");
        await retry.CloseAsync(Close.Unauthorized.Code, Close.Unauthorized.Reason);

        Assert.Equal(new ConnectionClosed(4401, "token expired", WillReconnect: true), await events.ClosedAsync());
        var final = await events.ClosedAsync();
        Assert.False(final.WillReconnect);
        Assert.Equal(CloseCodes.Unauthorized, final.Code);
        Assert.Equal(BrokerClientState.Closed, client.State);
        Assert.Equal(2, _tokens);
    }

    [Fact]
    public async Task A_4401_followed_by_a_good_token_carries_on_and_a_later_4401_gets_its_own_retry()
    {
        await using var client = NewClient();
        var events = new ClientEvents(client);
        var connect = client.ConnectAsync();
        var first = await _server.AcceptAuthenticatedAsync();
        await connect.WaitAsync(Timeout);

        await first.CloseAsync(Close.TokenExpired.Code, Close.TokenExpired.Reason);
        var second = await _server.AcceptAuthenticatedAsync();
        await events.ReconnectedAsync();
        await second.CloseAsync(Close.TokenExpired.Code, Close.TokenExpired.Reason);
        await _server.AcceptAuthenticatedAsync();
        await events.ReconnectedAsync();

        Assert.Equal(3, _tokens);
    }

    [Fact]
    public async Task Rejoin_sends_since_drops_replayed_duplicates_and_reports_recovery()
    {
        await using var client = NewClient();
        var events = new ClientEvents(client);
        var connect = client.ConnectAsync();
        var first = await _server.AcceptAuthenticatedAsync();
        await connect.WaitAsync(Timeout);
        var join = client.JoinAsync("room-a");
        await first.AnswerJoinAsync("e1", 0, recovered: false);
        await join.WaitAsync(Timeout);
        await first.MessageAsync("room-a", "e1", 1);
        await first.MessageAsync("room-a", "e1", 2);
        await first.MessageAsync("room-a", "e1", 2); // a duplicate on the live path too
        Assert.Equal(1, (await events.MessageAsync()).Offset);
        Assert.Equal(2, (await events.MessageAsync()).Offset);

        await first.CloseAsync(CloseCodes.GoingAway);
        var second = await _server.AcceptAuthenticatedAsync();
        var rejoin = await second.AnswerJoinAsync("e1", 4, recovered: true, replay: [1, 2, 3, 4]);

        var since = rejoin.GetProperty("data").GetProperty("since");
        Assert.Equal("e1", since.GetProperty("epoch").GetString());
        Assert.Equal(2, since.GetProperty("offset").GetInt64());
        Assert.Equal(new RoomRecovered("room-a", Recovered: true, EpochChanged: false, Missed: 2), await events.RecoveredAsync());
        Assert.Equal(3, (await events.MessageAsync()).Offset);
        Assert.Equal(4, (await events.MessageAsync()).Offset);
        Assert.False(events.TryTakeMessage(out var extra), $"unexpected offset {extra.Offset}");
    }

    [Fact]
    public async Task A_new_epoch_at_rejoin_tells_the_app_to_resync()
    {
        await using var client = NewClient();
        var events = new ClientEvents(client);
        var connect = client.ConnectAsync();
        var first = await _server.AcceptAuthenticatedAsync();
        await connect.WaitAsync(Timeout);
        var join = client.JoinAsync("room-b");
        await first.AnswerJoinAsync("e1", 10, recovered: false);
        await join.WaitAsync(Timeout);

        first.Abort();
        var second = await _server.AcceptAuthenticatedAsync();
        await second.AnswerJoinAsync("e2", 0, recovered: false);
        await second.MessageAsync("room-b", "e2", 1);

        Assert.Equal(new RoomRecovered("room-b", Recovered: false, EpochChanged: true, Missed: 0), await events.RecoveredAsync());
        var message = await events.MessageAsync();
        Assert.Equal(("e2", 1L), (message.Epoch, message.Offset));
    }

    [Fact]
    public async Task An_oversized_frame_drops_the_connection_with_1009_and_reconnects()
    {
        await using var client = NewClient(maxFrameBytes: 4096);
        var events = new ClientEvents(client);
        var connect = client.ConnectAsync();
        var first = await _server.AcceptAuthenticatedAsync();
        await connect.WaitAsync(Timeout);

        await first.SendAsync($$$"""{"type":"direct","data":{"from":"x","payload":"{{{new string('x', 5000)}}}"}}""");

        var closed = await events.ClosedAsync();
        Assert.Equal(CloseCodes.TooBig, closed.Code);
        Assert.True(closed.WillReconnect);
        await _server.AcceptAuthenticatedAsync();
        await events.ReconnectedAsync();
    }

    [Fact]
    public async Task Server_pings_are_answered_with_pong_and_unknown_frames_are_ignored()
    {
        await using var client = NewClient();
        var events = new ClientEvents(client);
        var connect = client.ConnectAsync();
        var side = await _server.AcceptAuthenticatedAsync();
        await connect.WaitAsync(Timeout);

        await side.SendAsync("""{"type":"something-new","data":{}}""");
        await side.SendAsync("not json at all");
        await side.SendAsync("""{"type":"ping"}""");

        Assert.Equal("pong", (await side.ReceiveAsync()).GetProperty("type").GetString());
        await side.SendAsync("""{"type":"direct","data":{"from":"x","payload":[1,2]}}""");
        Assert.Equal("[1,2]", Encoding.UTF8.GetString((await events.DirectAsync()).Payload.Span));
    }

    [Fact]
    public async Task A_request_without_a_reply_times_out()
    {
        await using var client = NewClient(requestTimeout: TimeSpan.FromMilliseconds(300));
        var connect = client.ConnectAsync();
        var side = await _server.AcceptAuthenticatedAsync();
        await connect.WaitAsync(Timeout);

        await Assert.ThrowsAsync<TimeoutException>(() => client.PingAsync().WaitAsync(Timeout));
        Assert.Equal("ping", (await side.ReceiveAsync()).GetProperty("type").GetString());
    }

    [Fact]
    public async Task An_error_with_the_request_id_fails_that_request_and_one_without_is_reported()
    {
        await using var client = NewClient();
        var events = new ClientEvents(client);
        var connect = client.ConnectAsync();
        var side = await _server.AcceptAuthenticatedAsync();
        await connect.WaitAsync(Timeout);

        var publish = client.PublishAsync("room-c", "{}"u8.ToArray());
        var frame = await side.ReceiveAsync("publish");
        await side.SendAsync($$$"""{"type":"error","id":"{{{frame.GetProperty("id").GetString()}}}","data":{"code":"rate_limited","message":"slow down"}}""");
        await side.SendAsync("""{"type":"error","data":{"code":"bad_request","message":"what?"}}""");

        var error = await Assert.ThrowsAsync<BrokerException>(() => publish.WaitAsync(Timeout));
        Assert.Equal((ErrorCodes.RateLimited, "slow down"), (error.Code, error.Message));
        var reported = Assert.IsType<BrokerException>(await events.ErrorAsync());
        Assert.Equal(ErrorCodes.BadRequest, reported.Code);
    }

    [Fact]
    public async Task Requests_made_while_reconnecting_wait_for_the_connection()
    {
        await using var client = NewClient();
        var events = new ClientEvents(client);
        var connect = client.ConnectAsync();
        var first = await _server.AcceptAuthenticatedAsync();
        await connect.WaitAsync(Timeout);

        first.Abort();
        await events.ClosedAsync();
        var next = await _server.AcceptAsync(); // connected at TCP level, not yet welcomed
        var ping = client.PingAsync();
        Assert.Equal("auth", (await next.ReceiveAsync()).GetProperty("type").GetString());
        await next.WelcomeAsync();

        var frame = await next.ReceiveAsync("ping");
        await next.SendAsync($$"""{"type":"pong","id":"{{frame.GetProperty("id").GetString()}}"}""");
        await ping.WaitAsync(Timeout);
    }

    [Fact]
    public async Task Requests_wait_no_longer_than_the_request_timeout_for_a_reconnection()
    {
        await using var client = NewClient(requestTimeout: TimeSpan.FromMilliseconds(500));
        var events = new ClientEvents(client);
        var connect = client.ConnectAsync();
        var first = await _server.AcceptAuthenticatedAsync();
        await connect.WaitAsync(Timeout);

        first.Abort();
        await events.ClosedAsync();
        await _server.AcceptAsync(); // never welcomed

        var error = await Assert.ThrowsAsync<TimeoutException>(() => client.PingAsync().WaitAsync(Timeout));
        Assert.Contains("Not connected", error.Message);
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

    private static long InMs(TimeSpan span) => (DateTimeOffset.UtcNow + span).ToUnixTimeMilliseconds();

    [Fact]
    public async Task The_token_is_refreshed_at_half_its_remaining_life_and_again_after_each_refreshed()
    {
        await using var client = NewClient();
        var connect = client.ConnectAsync();
        var side = await _server.AcceptAuthenticatedAsync(expiresAtMs: InMs(TimeSpan.FromSeconds(2)));
        await connect.WaitAsync(Timeout);

        var refresh = await side.ReceiveAsync("auth");
        Assert.Equal("token-2", refresh.GetProperty("data").GetProperty("token").GetString());
        var next = InMs(TimeSpan.FromSeconds(2));
        await side.SendAsync($$$"""{"type":"refreshed","id":"{{{refresh.GetProperty("id").GetString()}}}","data":{"expiresAt":{{{next}}}}}""");

        // The new expiry was taken: the next refresh comes ahead of it.
        var again = await side.ReceiveAsync("auth");
        Assert.Equal("token-3", again.GetProperty("data").GetProperty("token").GetString());
        Assert.True(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() < next);
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(next), client.ExpiresAt);
    }

    [Fact]
    public async Task A_refused_refresh_ends_in_4401_and_a_reconnection_with_a_new_token()
    {
        await using var client = NewClient();
        var events = new ClientEvents(client);
        var connect = client.ConnectAsync();
        var side = await _server.AcceptAuthenticatedAsync(expiresAtMs: InMs(TimeSpan.FromSeconds(1)));
        await connect.WaitAsync(Timeout);

        var refresh = await side.ReceiveAsync("auth");
        await side.SendAsync($$$"""{"type":"error","id":"{{{refresh.GetProperty("id").GetString()}}}","data":{"code":"unauthorized","message":"refresh for another user"}}""");
        await side.CloseAsync(Close.Unauthorized.Code, Close.Unauthorized.Reason);
        var next = await _server.AcceptAuthenticatedAsync();

        Assert.Equal(ErrorCodes.Unauthorized, Assert.IsType<BrokerException>(await events.ErrorAsync()).Code);
        Assert.Equal(new ConnectionClosed(4401, "unauthorized", WillReconnect: true), await events.ClosedAsync());
        Assert.Equal("token-3", next.Token);
        await events.ReconnectedAsync();
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
        var connect = client.ConnectAsync();
        await _server.AcceptAuthenticatedAsync();
        await connect.WaitAsync(Timeout);

        await _server.DisposeAsync(); // the server is gone for good

        Assert.True((await events.ClosedAsync()).WillReconnect);
        var final = await events.ClosedAsync();
        Assert.False(final.WillReconnect);
        Assert.Contains("3 reconnection attempts", final.Reason);
        Assert.Equal(BrokerClientState.Closed, client.State);
    }

    [Fact]
    public async Task A_join_from_a_stored_position_replays_what_follows_it()
    {
        await using var client = NewClient();
        var events = new ClientEvents(client);
        var connect = client.ConnectAsync();
        var side = await _server.AcceptAuthenticatedAsync();
        await connect.WaitAsync(Timeout);

        var join = client.JoinAsync("room-s", "e1", 5);
        var frame = await side.AnswerJoinAsync("e1", 7, recovered: true, replay: [5, 6, 7]);
        var joined = await join.WaitAsync(Timeout);

        Assert.Equal(5, frame.GetProperty("data").GetProperty("since").GetProperty("offset").GetInt64());
        Assert.True(joined.Recovered);
        Assert.Equal(6, (await events.MessageAsync()).Offset);
        Assert.Equal(7, (await events.MessageAsync()).Offset);
        Assert.False(events.TryTakeMessage(out _));
        Assert.False(events.TryTakeRecovered(out _)); // the app asked; the answer is the Joined
    }

    [Fact]
    public async Task Requests_queued_during_a_reconnection_go_out_in_call_order_after_the_rejoins()
    {
        await using var client = NewClient();
        var events = new ClientEvents(client);
        var connect = client.ConnectAsync();
        var first = await _server.AcceptAuthenticatedAsync();
        await connect.WaitAsync(Timeout);
        var join = client.JoinAsync("room-o");
        await first.AnswerJoinAsync("e1", 0, recovered: false);
        await join.WaitAsync(Timeout);

        first.Abort();
        await events.ClosedAsync();
        var next = await _server.AcceptAsync();
        var publishes = Enumerable.Range(1, 20).Select(i => client.PublishAsync("room-o", Encoding.UTF8.GetBytes(i.ToString()))).ToArray();
        Assert.Equal("auth", (await next.ReceiveAsync()).GetProperty("type").GetString());
        await next.WelcomeAsync();

        Assert.Equal("join", (await next.ReceiveAsync()).GetProperty("type").GetString());
        for (var i = 1; i <= 20; i++)
        {
            var frame = await next.ReceiveAsync();
            Assert.Equal("publish", frame.GetProperty("type").GetString());
            Assert.Equal(i, frame.GetProperty("data").GetProperty("payload").GetInt32());
            await next.SendAsync($$$"""{"type":"ack","id":"{{{frame.GetProperty("id").GetString()}}}","data":{"offset":{{{i}}}}}""");
        }
        Assert.Equal(Enumerable.Range(1, 20).Select(i => (long)i), await Task.WhenAll(publishes).WaitAsync(Timeout));
    }
}
