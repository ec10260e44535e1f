namespace Broker.Tests.Integration;

/// <summary>PROTOCOL §2, token lifetime: a connection lives no longer than its credential unless refreshed.</summary>
public sealed class TokenLifetimeTests(DefaultHostFixture fixture) : IClassFixture<DefaultHostFixture>
{
    private static readonly TimeSpan ShortLife = TimeSpan.FromSeconds(2);

    private BrokerTestHost Host => fixture.Host;

    [Fact]
    public async Task Connection_is_closed_4401_token_expired_when_its_jwt_expires()
    {
        await using var client = await TestClient.ConnectAsync(Host.WebSocketUri("chat"));
        await client.AuthenticateAsync(TestTokens.Valid("short-lived", ShortLife));

        var close = await client.ExpectCloseAsync();

        Assert.Equal(4401, close.Status);
        Assert.Equal("token expired", close.Description);
    }

    [Fact]
    public async Task Ticket_connection_is_closed_4401_token_expired_when_the_jwt_behind_it_expires()
    {
        var (ticket, _) = await TicketTests.IssueTicketAsync(Host, TestTokens.Valid("short-ticket", ShortLife));
        await using var client = await TestClient.ConnectAsync(Host.WebSocketUri("chat", "ticket=" + Uri.EscapeDataString(ticket)));
        Assert.Equal("welcome", (await client.ReceiveAsync()).Type());

        var close = await client.ExpectCloseAsync();

        Assert.Equal(4401, close.Status);
        Assert.Equal("token expired", close.Description);
    }

    [Fact]
    public async Task Refresh_for_the_same_user_answers_refreshed_and_outlives_the_old_token()
    {
        var oldToken = TestTokens.Valid("refresher", ShortLife);
        var newToken = TestTokens.Valid("refresher", TimeSpan.FromHours(1));
        await using var client = await TestClient.ConnectAsync(Host.WebSocketUri("chat"));
        await client.AuthenticateAsync(oldToken);

        await client.SendAsync("auth", "refresh-1", new JsonObject { ["token"] = newToken });
        var refreshed = await client.ReceiveAsync();

        Assert.Equal("refreshed", refreshed.Type());
        Assert.Equal("refresh-1", refreshed.Id());
        Assert.Equal(TestTokens.ExpiresAtMs(newToken), refreshed.Data().GetProperty("expiresAt").GetInt64());
        var untilPastOldExpiry = DateTimeOffset.FromUnixTimeMilliseconds(TestTokens.ExpiresAtMs(oldToken)) - DateTimeOffset.UtcNow + TimeSpan.FromSeconds(1);
        await client.AssertStaysOpenAsync(untilPastOldExpiry);
        await client.PingPongAsync();
    }

    [Fact]
    public async Task Refresh_for_another_user_is_unauthorized_and_closes_4401()
    {
        await using var client = await TestClient.ConnectAsync(Host.WebSocketUri("chat"));
        await client.AuthenticateAsync(TestTokens.Valid("victim"));

        await client.SendAsync("auth", "refresh-2", new JsonObject { ["token"] = TestTokens.Valid("intruder") });

        await FirstMessageAuthTests.AssertUnauthorizedAndClosedAsync(client, "refresh-2");
    }

    [Fact]
    public async Task Refresh_with_a_bad_token_is_unauthorized_and_closes_4401()
    {
        await using var client = await TestClient.ConnectAsync(Host.WebSocketUri("chat"));
        await client.AuthenticateAsync(TestTokens.Valid("sloppy"));

        await client.SendAsync("auth", "refresh-3", new JsonObject { ["token"] = TestTokens.Create("sloppy", credentials: TestTokens.Hs256("a-wrong-secret-that-is-long-enough-to-sign-with")) });

        await FirstMessageAuthTests.AssertUnauthorizedAndClosedAsync(client, "refresh-3");
    }
}
