using System.Text;
using Broker.Client;
using Broker.Client.Protocol;

namespace Broker.Tests.Client;

public sealed partial class ScriptedServerTests
{
    [Fact]
    public async Task A_request_without_a_reply_times_out()
    {
        await using var client = NewClient(requestTimeout: TimeSpan.FromMilliseconds(300));
        var side = await _server.ConnectAsync(client);

        await Assert.ThrowsAsync<TimeoutException>(() => client.PingAsync().WaitAsync(Timeout));
        Assert.Equal("ping", (await side.ReceiveAsync()).GetProperty("type").GetString());
    }

    [Fact]
    public async Task An_error_with_the_request_id_fails_that_request_and_one_without_is_reported()
    {
        await using var client = NewClient();
        var events = new ClientEvents(client);
        var side = await _server.ConnectAsync(client);

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
        var first = await _server.ConnectAsync(client);

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
        var first = await _server.ConnectAsync(client);

        first.Abort();
        await events.ClosedAsync();
        await _server.AcceptAsync(); // never welcomed

        var error = await Assert.ThrowsAsync<TimeoutException>(() => client.PingAsync().WaitAsync(Timeout));
        Assert.Contains("Not connected", error.Message);
    }

    [Fact]
    public async Task Requests_queued_during_a_reconnection_go_out_in_call_order_after_the_rejoins()
    {
        await using var client = NewClient();
        var events = new ClientEvents(client);
        var first = await _server.ConnectAsync(client);
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
