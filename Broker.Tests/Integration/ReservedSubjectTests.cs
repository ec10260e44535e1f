using System.Net;
using System.Net.Http.Json;

namespace Broker.Tests.Integration;

/// <summary>
/// No token may claim a sender the broker gives out itself (docs/security.md): <c>server</c>, the
/// back end's <c>from</c>, and <c>anon-…</c>, an anonymous connection's. Refused on every path a
/// token enters by: first-message auth, refresh, ticket issue and the back-end API.
/// </summary>
[Collection(SharedHostCollection.Name)]
public sealed class ReservedSubjectTests(SharedHostFixture fixture)
{
    private BrokerTestHost Host => fixture.Host;

    [Theory]
    [InlineData("server")]
    [InlineData("SERVER")]
    [InlineData("anon-0123456789abcdef")]
    public async Task A_first_message_token_for_a_reserved_sender_is_unauthorized_and_closes_4401(string sub)
    {
        await using var client = await TestClient.ConnectAsync(Host.WebSocketUri("chat"));

        await client.SendAsync("auth", "a-1", new JsonObject { ["token"] = TestTokens.Valid(sub) });

        var error = await client.ReceiveAsync();
        Assert.True(error.ErrorCode() == "unauthorized", $"expected error unauthorized, got {error}");
        Assert.Equal("a-1", error.Id());
        Assert.Contains("reserved", error.Data().GetProperty("message").GetString());
        var close = await client.ExpectCloseAsync();
        Assert.True(close.Status == 4401, close.ToString());
    }

    [Fact]
    public async Task An_anonymous_connection_cannot_be_refreshed_into_a_token_for_its_own_anon_id()
    {
        await using var client = await TestClient.ConnectAsync(Host.WebSocketUri(SharedHostFixture.AnonymousRoute));
        var self = (await client.ReceiveAsync("welcome")).Data().GetProperty("user").GetString()!;
        Assert.StartsWith("anon-", self);

        await client.SendAsync("auth", "r-1", new JsonObject { ["token"] = TestTokens.Valid(self) });

        var error = await client.ReceiveAsync();
        Assert.True(error.ErrorCode() == "unauthorized", $"expected error unauthorized, got {error}");
        Assert.Contains("reserved", error.Data().GetProperty("message").GetString());
        Assert.Equal(4401, (await client.ExpectCloseAsync()).Status);
    }

    [Theory]
    [InlineData("server")]
    [InlineData("anon-x")]
    public async Task A_ticket_is_not_issued_for_a_reserved_sender(string sub)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "auth/ticket");
        request.Headers.Authorization = new("Bearer", TestTokens.Valid(sub));

        using var response = await Host.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("reserved", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());
    }

    [Fact]
    public async Task The_back_end_api_refuses_a_publish_token_whose_sub_is_server()
    {
        var token = TestTokens.Create("server", extraClaims: new Dictionary<string, object> { ["scope"] = "broker:publish" });
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/publish") { Content = JsonContent.Create(new { room = "reserved-api", payload = 1 }) };
        request.Headers.Authorization = new("Bearer", token);

        using var response = await Host.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }
}
