using System.Net;
using System.Net.Http.Headers;

namespace Broker.Tests.Integration;

/// <summary>PROTOCOL §2, way 1: a single-use ticket from <c>POST /auth/ticket</c>, redeemed at the handshake.</summary>
[Collection(SharedHostCollection.Name)]
public sealed class TicketTests(SharedHostFixture fixture)
{
    private BrokerTestHost Host => fixture.Host;

    [Fact]
    public async Task Ticket_endpoint_issues_a_ticket_of_at_most_30_seconds_for_a_valid_bearer()
    {
        var (ticket, expiresIn) = await IssueTicketAsync(TestTokens.Valid("ticket-user"));

        Assert.False(string.IsNullOrWhiteSpace(ticket));
        Assert.InRange(expiresIn, 1, 30);
    }

    [Fact]
    public async Task Ticket_endpoint_without_a_bearer_is_401()
    {
        using var response = await Host.Http.PostAsync("auth/ticket", null);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Ticket_handshake_gets_welcome_without_an_auth_frame()
    {
        var token = TestTokens.Valid("ticket-holder");
        var (ticket, _) = await IssueTicketAsync(token);

        await using var client = await TestClient.ConnectAsync(Host.WebSocketUri("chat", "ticket=" + Uri.EscapeDataString(ticket)));
        var welcome = await client.ReceiveAsync();

        Assert.Equal("welcome", welcome.Type());
        Assert.Equal("ticket-holder", welcome.Data().GetProperty("user").GetString());
        Assert.Equal(TestTokens.ExpiresAtMs(token), welcome.Data().GetProperty("expiresAt").GetInt64());
        await client.PingPongAsync();
    }

    [Fact]
    public async Task Ticket_only_route_refuses_a_handshake_without_a_ticket_with_401()
    {
        var status = await TestClient.ConnectExpectingRefusalAsync(Host.WebSocketUri(SharedHostFixture.TicketOnlyRoute));
        Assert.Equal(HttpStatusCode.Unauthorized, status);
    }

    [Fact]
    public async Task Ticket_only_route_accepts_a_ticket_handshake()
    {
        var (ticket, _) = await IssueTicketAsync(TestTokens.Valid("ticket-only"));

        await using var client = await TestClient.ConnectAsync(Host.WebSocketUri(SharedHostFixture.TicketOnlyRoute, "ticket=" + Uri.EscapeDataString(ticket)));

        Assert.Equal("welcome", (await client.ReceiveAsync()).Type());
    }

    [Fact]
    public async Task Reused_ticket_is_refused_with_401_before_the_upgrade()
    {
        var (ticket, _) = await IssueTicketAsync(TestTokens.Valid("ticket-reuser"));
        var uri = Host.WebSocketUri("chat", "ticket=" + Uri.EscapeDataString(ticket));
        await using (var first = await TestClient.ConnectAsync(uri))
            Assert.Equal("welcome", (await first.ReceiveAsync()).Type());

        var status = await TestClient.ConnectExpectingRefusalAsync(uri);

        Assert.Equal(HttpStatusCode.Unauthorized, status);
    }

    [Theory]
    [InlineData("made-up-ticket")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    public async Task Unknown_ticket_is_refused_with_401_before_the_upgrade(string ticket)
    {
        var status = await TestClient.ConnectExpectingRefusalAsync(Host.WebSocketUri("chat", "ticket=" + ticket));
        Assert.Equal(HttpStatusCode.Unauthorized, status);
    }

    [Fact]
    public async Task Oversized_ticket_is_refused_with_401_before_the_upgrade()
    {
        var status = await TestClient.ConnectExpectingRefusalAsync(Host.WebSocketUri("chat", "ticket=" + new string('t', 4000)));
        Assert.Equal(HttpStatusCode.Unauthorized, status);
    }

    [Fact]
    public async Task Expired_ticket_is_refused_with_401_before_the_upgrade()
    {
        var (ticket, expiresIn) = await IssueTicketAsync(TestTokens.Valid("ticket-sleeper"));
        fixture.Clock.Advance(TimeSpan.FromSeconds(expiresIn + 1));
        try
        {
            var status = await TestClient.ConnectExpectingRefusalAsync(Host.WebSocketUri("chat", "ticket=" + Uri.EscapeDataString(ticket)));
            Assert.Equal(HttpStatusCode.Unauthorized, status);
        }
        finally
        {
            fixture.Clock.Reset();
        }
    }

    /// <summary><c>POST /auth/ticket</c> with <paramref name="bearer"/>; asserts 200.</summary>
    internal static async Task<(string Ticket, int ExpiresIn)> IssueTicketAsync(BrokerTestHost host, string bearer)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "auth/ticket");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        using var response = await host.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return (body.RootElement.GetProperty("ticket").GetString()!, body.RootElement.GetProperty("expiresIn").GetInt32());
    }

    private Task<(string Ticket, int ExpiresIn)> IssueTicketAsync(string bearer) => IssueTicketAsync(Host, bearer);
}
