using System.Net.WebSockets;

namespace Broker.Tests.Integration;

/// <summary>PROTOCOL §2, way 2: a JWT in the first frame.</summary>
[Collection(SharedHostCollection.Name)]
public sealed class FirstMessageAuthTests(SharedHostFixture fixture)
{
    private BrokerTestHost Host => fixture.Host;

    [Fact]
    public async Task Valid_jwt_in_the_first_frame_gets_welcome_with_user_expiry_and_heartbeat()
    {
        var token = TestTokens.Valid("alice");
        await using var client = await TestClient.ConnectAsync(Host.WebSocketUri("chat"));

        var welcome = (await client.AuthenticateAsync(token)).Data();

        Assert.Equal("alice", welcome.GetProperty("user").GetString());
        Assert.Equal(TestTokens.ExpiresAtMs(token), welcome.GetProperty("expiresAt").GetInt64());
        Assert.False(string.IsNullOrEmpty(welcome.GetProperty("connection").GetString()));
        Assert.False(string.IsNullOrEmpty(welcome.GetProperty("node").GetString()));
        Assert.Equal(25_000, welcome.GetProperty("heartbeat").GetProperty("interval").GetInt64());
        Assert.Equal(10_000, welcome.GetProperty("heartbeat").GetProperty("timeout").GetInt64());
        await client.PingPongAsync();
    }

    [Fact]
    public async Task Valid_rs256_jwt_from_a_configured_key_is_accepted()
    {
        var token = TestTokens.Create("rsa-user", credentials: TestTokens.Rs256(TestTokens.Rsa, TestTokens.RsaKeyId));
        await using var client = await TestClient.ConnectAsync(Host.WebSocketUri("chat"));

        var welcome = await client.AuthenticateAsync(token);

        Assert.Equal("rsa-user", welcome.Data().GetProperty("user").GetString());
    }

    [Fact]
    public async Task Bad_jwt_gets_unauthorized_then_close_4401()
    {
        await using var client = await TestClient.ConnectAsync(Host.WebSocketUri("chat"));

        await client.SendAsync("auth", "a-1", new System.Text.Json.Nodes.JsonObject { ["token"] = "not.a.jwt" });

        await AssertUnauthorizedAndClosedAsync(client, "a-1");
    }

    [Fact]
    public async Task A_first_frame_other_than_auth_gets_unauthorized_then_close_4401()
    {
        await using var client = await TestClient.ConnectAsync(Host.WebSocketUri("chat"));

        await client.SendAsync("ping", "p-1");

        await AssertUnauthorizedAndClosedAsync(client, "p-1");
    }

    [Fact]
    public async Task Garbage_first_frame_gets_unauthorized_then_close_4401()
    {
        await using var client = await TestClient.ConnectAsync(Host.WebSocketUri("chat"));

        await client.SendTextAsync("let me in");

        await AssertUnauthorizedAndClosedAsync(client, expectedId: null);
    }

    [Fact]
    public async Task Binary_first_frame_gets_unauthorized_then_close_4401()
    {
        await using var client = await TestClient.ConnectAsync(Host.WebSocketUri("chat"));

        await client.SendRawAsync(new byte[] { 0x7B, 0x7D }, WebSocketMessageType.Binary, endOfMessage: true);

        await AssertUnauthorizedAndClosedAsync(client, expectedId: null);
    }

    [Fact]
    public async Task No_auth_frame_within_the_timeout_is_closed_4401_auth_timeout()
    {
        await using var client = await TestClient.ConnectAsync(Host.WebSocketUri("chat"));

        var close = await client.ExpectCloseAsync(); // Broker:Auth:Timeout is 1 s on this host

        Assert.Equal(4401, close.Status);
        Assert.Equal("auth timeout", close.Description);
    }

    /// <summary>PROTOCOL §2: an <c>error</c> with code <c>unauthorized</c> (echoing the id), then close 4401.</summary>
    internal static async Task AssertUnauthorizedAndClosedAsync(TestClient client, string? expectedId)
    {
        var error = await client.ReceiveAsync();
        Assert.True(error.ErrorCode() == "unauthorized", $"expected error unauthorized, got {error}");
        Assert.Equal(expectedId, error.Id());
        var close = await client.ExpectCloseAsync();
        Assert.True(close.Status == 4401, close.ToString());
    }
}
