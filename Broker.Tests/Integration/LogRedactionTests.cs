using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.Logging;

namespace Broker.Tests.Integration;

/// <summary>A host that logs everything, down to Trace, into a capture.</summary>
public sealed class TraceLoggingHostFixture : IAsyncLifetime
{
    public BrokerTestHost Host { get; private set; } = null!;

    public async Task InitializeAsync() => Host = await BrokerTestHost.StartAsync(minimumLevel: LogLevel.Trace);

    public async Task DisposeAsync() => await Host.DisposeAsync();
}

/// <summary>PROTOCOL §2: tokens never appear in logs; nor do tickets, which are credentials too.</summary>
public sealed class LogRedactionTests(TraceLoggingHostFixture fixture) : IClassFixture<TraceLoggingHostFixture>
{
    private BrokerTestHost Host => fixture.Host;

    [Fact]
    public async Task No_log_line_contains_a_token_or_a_ticket_after_every_auth_flow()
    {
        var secrets = new List<string>();
        string Secret(string s) { secrets.Add(s); return s; }

        // First-message auth, then a refresh for the same user, then one for another user.
        await using (var client = await TestClient.ConnectAsync(Host.WebSocketUri("chat")))
        {
            await client.AuthenticateAsync(Secret(TestTokens.Valid("log-alice")));
            await client.SendAsync("auth", "r1", new JsonObject { ["token"] = Secret(TestTokens.Valid("log-alice")) });
            Assert.Equal("refreshed", (await client.ReceiveAsync()).Type());
            await client.SendAsync("auth", "r2", new JsonObject { ["token"] = Secret(TestTokens.Valid("log-mallory")) });
            await FirstMessageAuthTests.AssertUnauthorizedAndClosedAsync(client, "r2");
        }

        // Bad tokens in-band.
        foreach (var bad in new[]
                 {
                     TestTokens.Create("log-bad", credentials: TestTokens.Hs256("wrong-secret-wrong-secret-wrong-secret-0123")),
                     TestTokens.Create("log-bad", unsigned: true),
                     TestTokens.Create("log-bad", notBefore: DateTime.UtcNow.AddMinutes(-10), expires: DateTime.UtcNow.AddMinutes(-5)),
                     TestTokens.Create("log-bad", extraClaims: new Dictionary<string, object> { ["pad"] = new string('q', 9000) }),
                 })
        {
            await using var client = await TestClient.ConnectAsync(Host.WebSocketUri("chat"));
            await client.SendAsync("auth", "bad", new JsonObject { ["token"] = Secret(bad) });
            await FirstMessageAuthTests.AssertUnauthorizedAndClosedAsync(client, "bad");
        }

        // Tickets: issue, redeem, reuse, a made-up one, and a bad bearer at the ticket endpoint.
        var (ticket, _) = await TicketTests.IssueTicketAsync(Host, Secret(TestTokens.Valid("log-ticket")));
        Secret(ticket);
        var ticketUri = Host.WebSocketUri("chat", "ticket=" + Uri.EscapeDataString(ticket));
        await using (var client = await TestClient.ConnectAsync(ticketUri))
            Assert.Equal("welcome", (await client.ReceiveAsync()).Type());
        Assert.Equal(HttpStatusCode.Unauthorized, await TestClient.ConnectExpectingRefusalAsync(ticketUri));
        var madeUp = Secret("made-up-ticket-" + Guid.NewGuid().ToString("N"));
        Assert.Equal(HttpStatusCode.Unauthorized, await TestClient.ConnectExpectingRefusalAsync(Host.WebSocketUri("chat", "ticket=" + madeUp)));
        using (var request = new HttpRequestMessage(HttpMethod.Post, "auth/ticket"))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Secret(TestTokens.Create("log-bearer", issuer: "evil")));
            using var response = await Host.Http.SendAsync(request);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }

        // Akka logs asynchronously: wait (with a deadline) until the last rejection has been logged.
        await WaitForLogAsync("refresh rejected");

        var leaks = (
            from line in Host.Logs.Lines
            from secret in secrets.SelectMany(Fragments)
            where line.Contains(secret, StringComparison.Ordinal)
            select $"{secret[..Math.Min(12, secret.Length)]}… in: {line[..Math.Min(300, line.Length)]}").ToList();
        Assert.True(leaks.Count == 0, "secrets in the logs:\n" + string.Join("\n", leaks));
        Assert.NotEmpty(Host.Logs.Lines);
    }

    /// <summary>The whole secret and, for a JWT, its signature on its own (a partial leak is still a leak).</summary>
    private static IEnumerable<string> Fragments(string secret)
    {
        yield return secret;
        var parts = secret.Split('.');
        if (parts.Length == 3 && parts[2].Length >= 16) yield return parts[2];
    }

    private async Task WaitForLogAsync(string fragment)
    {
        var deadline = DateTime.UtcNow + TestClient.DefaultTimeout;
        while (!Host.Logs.Lines.Any(l => l.Contains(fragment, StringComparison.Ordinal)))
        {
            Assert.True(DateTime.UtcNow < deadline, $"no log line containing '{fragment}' within {TestClient.DefaultTimeout}");
            await Task.Delay(20);
        }
    }
}
