using Broker.Client;
using Broker.Client.Protocol;

namespace Broker.Tests.Client;

public sealed partial class ScriptedServerTests
{
    [Fact]
    public async Task A_4401_gets_one_retry_with_a_new_token_then_the_client_closes()
    {
        await using var client = NewClient();
        var events = new ClientEvents(client);
        var first = await _server.ConnectAsync(client);

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
        var first = await _server.ConnectAsync(client);

        await first.CloseAsync(Close.TokenExpired.Code, Close.TokenExpired.Reason);
        var second = await _server.AcceptAuthenticatedAsync();
        await events.ReconnectedAsync();
        await second.CloseAsync(Close.TokenExpired.Code, Close.TokenExpired.Reason);
        await _server.AcceptAuthenticatedAsync();
        await events.ReconnectedAsync();

        Assert.Equal(3, _tokens);
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
}
