using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using Broker.AspNetCore.WebSockets;
using Microsoft.Extensions.DependencyInjection;

namespace Broker.Tests.Integration;

/// <summary>
/// <c>Broker:Limits:MaxConnectionsPerUser</c> (docs/security.md): past the cap a new connection of
/// the user gets <c>error forbidden</c> and close 4403; the ones it already has are never touched,
/// and a place freed by a close is taken again.
/// </summary>
public sealed class ConnectionsPerUserTests(ConnectionsPerUserTests.CappedHost fixture) : IClassFixture<ConnectionsPerUserTests.CappedHost>
{
    public const int Cap = 3;
    private const string Operator = "cap-operator";

    /// <summary>A small cap per user; the directory's count is read through <c>GET /api/users/{user}</c>.</summary>
    public sealed class CappedHost : HostFixture
    {
        protected override IReadOnlyDictionary<string, string?> Settings =>
            new Dictionary<string, string?> { ["Broker:Limits:MaxConnectionsPerUser"] = Cap.ToString() };
    }

    private BrokerTestHost Host => fixture.Host;

    [Fact]
    public async Task The_connection_past_the_cap_is_refused_4403_and_the_first_ones_keep_working()
    {
        var user = $"capped-{Guid.NewGuid():N}";
        var kept = new List<TestClient>();
        try
        {
            for (var i = 0; i < Cap; i++) kept.Add(await Host.ConnectAuthenticatedAsync(user));
            await WaitForDirectoryCountAsync(user, Cap);

            await using var extra = await Host.ConnectAuthenticatedAsync(user);
            await AssertRefusedAsync(extra);

            foreach (var client in kept) await client.PingPongAsync();
            Assert.Equal(Cap, await DirectoryCountAsync(user)); // the refused one was never counted

            // One closes: its place is free again, and the next connection is admitted and stays.
            await kept[0].DisposeAsync();
            kept.RemoveAt(0);
            await WaitForDirectoryCountAsync(user, Cap - 1);
            var again = await Host.ConnectAuthenticatedAsync(user);
            kept.Add(again);
            await WaitForDirectoryCountAsync(user, Cap); // counted, so admitted: a refused one never is
            await again.PingPongAsync();
            foreach (var client in kept) Assert.Equal(System.Net.WebSockets.WebSocketState.Open, client.State);
        }
        finally
        {
            foreach (var client in kept) await client.DisposeAsync();
        }
    }

    [Fact]
    public async Task Other_users_are_not_counted_against_a_capped_user()
    {
        var (full, other) = ($"full-{Guid.NewGuid():N}", $"other-{Guid.NewGuid():N}");
        var clients = new List<TestClient>();
        try
        {
            for (var i = 0; i < Cap; i++) clients.Add(await Host.ConnectAuthenticatedAsync(full));
            await WaitForDirectoryCountAsync(full, Cap);

            for (var i = 0; i < Cap; i++) clients.Add(await Host.ConnectAuthenticatedAsync(other));

            await WaitForDirectoryCountAsync(other, Cap);
            foreach (var client in clients) await client.PingPongAsync();
        }
        finally
        {
            foreach (var client in clients) await client.DisposeAsync();
        }
    }

    /// <summary>error forbidden ("too many connections…"), then close 4403.</summary>
    internal static async Task AssertRefusedAsync(TestClient client)
    {
        var error = await client.ReceiveAsync("error");
        Assert.Equal("forbidden", error.ErrorCode());
        Assert.Contains("too many connections for this user", error.Data().GetProperty("message").GetString());
        var close = await client.ExpectCloseAsync();
        Assert.True(close is { Status: 4403, Description: "too many connections" }, close.ToString());
    }

    private async Task<int> DirectoryCountAsync(string user)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"api/users/{user}");
        request.Headers.Authorization = new("Bearer", TestTokens.Create(Operator, extraClaims: new Dictionary<string, object> { ["scope"] = "broker:publish" }));
        using var response = await Host.Http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("connections").GetInt32();
    }

    private Task WaitForDirectoryCountAsync(string user, int count) =>
        Eventually.TrueAsync(async () => await DirectoryCountAsync(user) == count, TestClient.DefaultTimeout, $"{user} has {count} connections in the directory");
}

/// <summary>
/// <c>Broker:Limits:MaxConnectionsPerIp</c> (docs/security.md): past the cap a handshake from the
/// address gets HTTP 429 with <c>Retry-After</c> before the upgrade; the count follows sockets
/// closing, however they end, and never leaks.
/// </summary>
public sealed class ConnectionsPerIpTests(ConnectionsPerIpTests.IpCappedHost fixture) : IClassFixture<ConnectionsPerIpTests.IpCappedHost>
{
    public const int Cap = 3;
    private const string Loopback = "127.0.0.1";

    /// <summary>A small cap per IP: every test client comes from 127.0.0.1.</summary>
    public sealed class IpCappedHost : HostFixture
    {
        protected override IReadOnlyDictionary<string, string?> Settings =>
            new Dictionary<string, string?> { ["Broker:Limits:MaxConnectionsPerIp"] = Cap.ToString() };
    }

    private BrokerTestHost Host => fixture.Host;
    private ClientIpLimiter Limiter => Host.Services.GetRequiredService<ClientIpLimiter>();

    [Fact]
    public async Task Past_the_cap_the_handshake_gets_429_with_retry_after_and_the_open_sockets_are_untouched()
    {
        await WaitUntilNoSocketsAsync();
        var open = new List<TestClient>();
        try
        {
            for (var i = 0; i < Cap; i++) open.Add(await TestClient.ConnectAsync(Host.WebSocketUri("chat")));

            using var refused = await UpgradeRequestAsync();
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            Assert.NotNull(refused.Headers.RetryAfter);
            Assert.Contains("too many connections from this address", (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());
            Assert.Equal(HttpStatusCode.TooManyRequests, await TestClient.ConnectExpectingRefusalAsync(Host.WebSocketUri("chat")));
            Assert.Equal(Cap, Limiter.OpenFor(Loopback));

            // The ones already open are served as before.
            foreach (var client in open) await client.AuthenticateAsync(TestTokens.Valid($"ip-{Guid.NewGuid():N}"));
            foreach (var client in open) await client.PingPongAsync();
        }
        finally
        {
            foreach (var client in open) await client.DisposeAsync();
        }
    }

    [Fact]
    public async Task The_count_goes_down_however_sockets_end_over_many_cycles_and_never_leaks()
    {
        for (var cycle = 0; cycle < 15; cycle++)
        {
            await WaitUntilNoSocketsAsync();
            var clients = new List<TestClient>();
            for (var i = 0; i < Cap; i++) clients.Add(await TestClient.ConnectAsync(Host.WebSocketUri("chat")));
            Assert.Equal(HttpStatusCode.TooManyRequests, await TestClient.ConnectExpectingRefusalAsync(Host.WebSocketUri("chat")));

            // Three ways to end: a close from the client, a dropped TCP connection, a close by the server (4401).
            await clients[0].DisposeAsync();
            clients[1].Abort();
            await clients[2].SendAsync("ping");
            Assert.Equal(4401, (await clients[2].ExpectCloseAsync()).Status);

            await Eventually.TrueAsync(() => Limiter.OpenFor(Loopback) == 0, TestClient.DefaultTimeout, $"cycle {cycle}: every slot released");
            await using (await TestClient.ConnectAsync(Host.WebSocketUri("chat"))) { } // admitted again
            await clients[1].DisposeAsync();
            await clients[2].DisposeAsync();
        }
        await WaitUntilNoSocketsAsync();
        Assert.Equal(0, Limiter.TrackedAddresses);
    }

    private Task WaitUntilNoSocketsAsync() =>
        Eventually.TrueAsync(() => Limiter.OpenFor(Loopback) == 0, TestClient.DefaultTimeout, "no socket open from 127.0.0.1");

    /// <summary>A WebSocket upgrade as plain HTTP, to read the refusal's headers and body.</summary>
    private async Task<HttpResponseMessage> UpgradeRequestAsync()
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "ws/chat");
        request.Headers.Connection.Add("Upgrade");
        request.Headers.Upgrade.Add(new System.Net.Http.Headers.ProductHeaderValue("websocket"));
        request.Headers.Add("Sec-WebSocket-Version", "13");
        request.Headers.Add("Sec-WebSocket-Key", Convert.ToBase64String(RandomNumberGenerator.GetBytes(16)));
        return await Host.Http.SendAsync(request);
    }
}
