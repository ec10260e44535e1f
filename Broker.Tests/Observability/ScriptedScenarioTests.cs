namespace Broker.Tests.Observability;

/// <summary>
/// One scripted scenario against the real host: a good connection, a bad token, a silent client
/// the heartbeat kills, and two members of a room exchanging a publish. The metrics and the
/// access log must tell that story. Split by concern into partial classes.
/// </summary>
[Collection(ObservabilityCollection.Name)]
public sealed partial class ScriptedScenarioTests(ObservabilityHost host)
{
    private const string PayloadMarker = "payload-secret-7d1f";

    /// <summary>What the scenario did, for the assertions.</summary>
    private sealed record Outcome(
        string AliceConnection, string BobConnection, string SilentConnection,
        string Room, string[] Tokens, string BadToken,
        PrometheusScrape Before, PrometheusScrape During);

    private async Task<Outcome> RunScenarioAsync(string suffix)
    {
        var room = "obs-room-" + suffix;
        var aliceToken = TestTokens.Valid("alice-" + suffix);
        var bobToken = TestTokens.Valid("bob-" + suffix);
        var silentToken = TestTokens.Valid("silent-" + suffix);
        const string badToken = "eyJhbGciOiJIUzI1NiJ9.bm90LWEtdG9rZW4.c2lnbmF0dXJl-bad";
        var before = await host.ScrapeAsync();

        // Two good connections in one room.
        await using var alice = await TestClient.ConnectAsync(host.WebSocketUri, autoPong: true);
        await alice.SendAsync(new { type = "auth", data = new { token = aliceToken } });
        var aliceId = (await alice.ReceiveAsync("welcome")).GetProperty("data").GetProperty("connection").GetString()!;
        await using var bob = await TestClient.ConnectAsync(host.WebSocketUri, autoPong: true);
        await bob.SendAsync(new { type = "auth", data = new { token = bobToken } });
        var bobId = (await bob.ReceiveAsync("welcome")).GetProperty("data").GetProperty("connection").GetString()!;
        await alice.SendAsync(new { type = "join", id = "j1", data = new { room } });
        await alice.ReceiveAsync("joined");
        await bob.SendAsync(new { type = "join", id = "j2", data = new { room } });
        await bob.ReceiveAsync("joined");
        // The supervisor learns of each authentication asynchronously: poll, don't assume.
        PrometheusScrape during = null!;
        await Eventually.TrueAsync(async () =>
        {
            during = await host.ScrapeAsync();
            return during.Sum("broker_connections", "route=" + host.Route, "state=authenticated") == 2;
        }, "two authenticated connections never showed up on /metrics");

        // A bad token: error, then 4401.
        await using var intruder = await TestClient.ConnectAsync(host.WebSocketUri, autoPong: true);
        await intruder.SendAsync(new { type = "auth", data = new { token = badToken } });
        // The client may not see the 4401 itself: the transport can abort the socket before the
        // close frame is written (see docs/observability.md, "known gaps"). The server's account
        // of the close is what this test checks, on /metrics and in the log.
        await intruder.ExpectCloseAsync();

        // A silent client: the heartbeat cuts it off with 1008 within two intervals.
        await using var silent = await TestClient.ConnectAsync(host.WebSocketUri);
        await silent.SendAsync(new { type = "auth", data = new { token = silentToken } });
        var silentId = (await silent.ReceiveAsync("welcome")).GetProperty("data").GetProperty("connection").GetString()!;
        await silent.ExpectCloseAsync();

        // One publish, delivered to both members.
        await alice.SendAsync(new { type = "publish", id = "p1", data = new { room, payload = new { text = PayloadMarker } } });
        await alice.ReceiveAsync("ack");
        await alice.ReceiveAsync("message");
        await bob.ReceiveAsync("message");

        await bob.SendAsync(new { type = "leave", id = "l1", data = new { room } });
        await bob.ReceiveAsync("left");
        await alice.CloseAsync();
        await bob.CloseAsync();

        return new Outcome(aliceId, bobId, silentId, room, [aliceToken, bobToken, silentToken], badToken, before, during);
    }
}
