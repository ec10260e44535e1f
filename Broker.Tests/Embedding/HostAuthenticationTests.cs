using System.Net;
using System.Net.Http.Json;

namespace Broker.Tests.Embedding;

/// <summary>
/// The sample embeds the broker with <c>UseHostAuthentication()</c>: a token the app's own JwtBearer
/// accepts is accepted on <c>/ws/*</c>, <c>/auth/ticket</c> and <c>/api/*</c>; one it refuses is refused there too.
/// </summary>
public sealed class HostAuthenticationTests : IAsyncLifetime
{
    private OrderServiceHost _host = null!;

    public async Task InitializeAsync() => _host = await OrderServiceHost.StartAsync();

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private Uri Notifications(string? query = null) => new($"ws://{_host.BaseUri.Authority}/ws/notifications{(query is null ? "" : "?" + query)}");

    [Fact]
    public async Task A_token_the_apps_JwtBearer_accepts_opens_a_socket_for_its_sub_until_its_exp()
    {
        var token = OrderServiceHost.AppToken("gina");
        await using var client = await TestClient.ConnectAsync(Notifications());
        var welcome = (await client.AuthenticateAsync(token)).Data();
        Assert.Equal("gina", welcome.GetProperty("user").GetString());
        Assert.Equal(TestTokens.ExpiresAtMs(token), welcome.GetProperty("expiresAt").GetInt64());
    }

    [Fact]
    public async Task A_token_the_apps_JwtBearer_accepts_buys_a_ticket_that_opens_a_socket()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "auth/ticket");
        request.Headers.Authorization = new("Bearer", OrderServiceHost.AppToken("hank"));
        using var response = await _host.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var ticket = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("ticket").GetString()!;

        await using var client = await TestClient.ConnectAsync(Notifications("ticket=" + Uri.EscapeDataString(ticket)));
        var welcome = await client.ReceiveAsync();
        Assert.Equal(("welcome", "hank"), (welcome.Type(), welcome.Data().GetProperty("user").GetString()));
    }

    public static TheoryData<string, string> Refused => new()
    {
        { "wrong issuer", OrderServiceHost.AppToken("ivan", issuer: "someone-else") },
        { "wrong key", OrderServiceHost.AppToken("ivan", key: "not-the-order-service-key-0123456789abcdef") },
        { "the broker's own dev key", TestTokens.Create("ivan", credentials: TestTokens.Hs256(Broker.AspNetCore.Auth.JwtKeys.DevelopmentSigningKey), issuer: "orders", audience: "orders") },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task A_token_the_apps_JwtBearer_refuses_gets_4401_on_the_socket(string why, string token)
    {
        await using var client = await TestClient.ConnectAsync(Notifications());
        await client.SendAsync("auth", "a1", new JsonObject { ["token"] = token });
        var error = await client.ReceiveAsync("error", "a1");
        Assert.True(error.ErrorCode() == "unauthorized", why);
        Assert.Equal(4401, (await client.ExpectCloseAsync()).Status);
    }

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task A_token_the_apps_JwtBearer_refuses_gets_401_at_the_ticket_endpoint(string why, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "auth/ticket");
        request.Headers.Authorization = new("Bearer", token);
        using var response = await _host.Http.SendAsync(request);
        Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, why);
    }

    [Fact]
    public async Task The_back_end_API_takes_app_tokens_with_the_publish_scope()
    {
        using var publish = new HttpRequestMessage(HttpMethod.Post, "api/publish") { Content = JsonContent.Create(new { user = "nobody", payload = 1 }) };
        publish.Headers.Authorization = new("Bearer", OrderServiceHost.AppToken("billing", claims: new Dictionary<string, object> { ["scope"] = "broker:publish" }));
        using var accepted = await _host.Http.SendAsync(publish);
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);

        using var unscoped = new HttpRequestMessage(HttpMethod.Post, "api/publish") { Content = JsonContent.Create(new { user = "nobody", payload = 1 }) };
        unscoped.Headers.Authorization = new("Bearer", OrderServiceHost.AppToken("billing"));
        using var forbidden = await _host.Http.SendAsync(unscoped);
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
    }

    [Fact]
    public async Task The_brokers_dev_token_endpoint_is_off_because_the_app_issues_tokens()
    {
        using var response = await _host.Http.PostAsync("auth/dev-token?user=x", null);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }
}
