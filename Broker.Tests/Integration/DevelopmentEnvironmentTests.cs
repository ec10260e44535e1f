using System.Net;

namespace Broker.Tests.Integration;

/// <summary>A host in the Development environment, where <c>POST /auth/dev-token</c> exists.</summary>
public sealed class DevelopmentHostFixture : IAsyncLifetime
{
    public BrokerTestHost Host { get; private set; } = null!;

    public async Task InitializeAsync() => Host = await BrokerTestHost.StartAsync(environment: "Development");

    public async Task DisposeAsync() => await Host.DisposeAsync();
}

public sealed class DevelopmentEnvironmentTests(DevelopmentHostFixture fixture) : IClassFixture<DevelopmentHostFixture>
{
    [Fact]
    public async Task Dev_token_endpoint_issues_a_token_that_authenticates_in_development()
    {
        using var response = await fixture.Host.Http.PostAsync("auth/dev-token?user=dora", null);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var token = body.RootElement.GetProperty("token").GetString()!;

        await using var client = await TestClient.ConnectAsync(fixture.Host.WebSocketUri("chat"));
        var welcome = await client.AuthenticateAsync(token);
        Assert.Equal("dora", welcome.Data().GetProperty("user").GetString());
    }

    [Theory]
    [InlineData("server")]
    [InlineData("anon-1234")]
    public async Task Dev_token_endpoint_refuses_a_reserved_sender_with_400(string user)
    {
        using var response = await fixture.Host.Http.PostAsync($"auth/dev-token?user={user}", null);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("reserved", await response.Content.ReadAsStringAsync());
    }
}
