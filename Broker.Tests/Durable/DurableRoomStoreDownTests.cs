using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;

namespace Broker.Tests.Durable;

/// <summary>
/// A durable room's database goes down under a running node and comes back (a real PostgreSQL
/// server stopped and started): publishes get <c>unavailable</c> quickly, never an ack that is
/// then lost; memory rooms keep working; <c>/health/ready</c> says what is wrong; and the room
/// takes publishes again by itself, its stream continuing without a gap.
/// </summary>
public sealed class DurableRoomStoreDownTests
{
    [PostgresFact]
    public async Task A_database_that_goes_away_gives_unavailable_not_loss_and_the_room_recovers_by_itself()
    {
        await using var pg = await PostgresServer.StartNewAsync();
        var database = await pg.CreateDatabaseAsync();
        await using var host = await BrokerTestHost.StartAsync(new Dictionary<string, string?>
        {
            ["Broker:Persistence:Provider"] = "postgresql",
            ["Broker:Persistence:ConnectionString"] = database + ";Timeout=2;Command Timeout=2",
            ["Broker:Persistence:CallTimeout"] = "00:00:02",
            ["Broker:Persistence:ResetTimeout"] = "00:00:01",
            ["Broker:Rooms:Namespaces:mem:Durable"] = "false",
        });
        await using var alice = await host.ConnectAuthenticatedAsync("alice");
        await using var bob = await host.ConnectAuthenticatedAsync("bob");
        var epoch = (await alice.JoinAsync("ledger")).Str("epoch");
        await bob.JoinAsync("ledger");
        await alice.JoinAsync("mem:chat");
        for (var n = 1; n <= 3; n++) Assert.Equal(n, (await PublishAsync(alice, "ledger", n, $"k{n}")).Data().Long("offset"));

        await pg.StopAsync();

        // Every publish to the durable room is answered, quickly, and never with an ack.
        for (var n = 4; n <= 6; n++)
        {
            var clock = Stopwatch.StartNew();
            var reply = await PublishAsync(alice, "ledger", 100 + n, $"down-{n}");
            Assert.Equal("unavailable", reply.ErrorCode());
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(8), $"unavailable took {clock.Elapsed}");
        }
        // A room not loaded yet cannot recover: the join is refused, and the connection is not a member.
        var joinId = await alice.SendJoinAsync("archive");
        Assert.Equal("unavailable", (await alice.ReceiveReplyAsync(joinId, TimeSpan.FromSeconds(20))).ErrorCode());
        Assert.Equal("forbidden", (await PublishAsync(alice, "archive", 1, null)).ErrorCode());
        using (var request = new HttpRequestMessage(HttpMethod.Get, "api/rooms/archive"))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TestTokens.Valid("backend", scope: "broker:publish"));
            using var info = await host.Http.SendAsync(request);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, info.StatusCode);
        }
        // The memory room does not need the database.
        Assert.Equal("ack", (await PublishAsync(alice, "mem:chat", 1, null)).Type());
        // The API says the same as the socket.
        var token = TestTokens.Valid("backend", scope: "broker:publish");
        using (var api = await ApiPublishAsync(host, token, new { room = "ledger", payload = new { n = 99 }, idempotencyKey = "api-1" }))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, api.StatusCode);
            Assert.Equal("unavailable", (await api.Content.ReadFromJsonAsync<JsonElement>()).Str("code"));
        }
        // Ready stays 200 (the node still serves) and says what is wrong.
        var degraded = await host.Http.GetFromJsonAsync<JsonElement>("health/ready");
        Assert.Equal("Degraded", degraded.Str("status"));
        Assert.Contains("PostgreSQL", degraded.GetProperty("checks").GetProperty("room-store").Str("description"));

        await pg.StartAsync();

        // The client retries with the same key until the room takes it: exactly once, at offset 4.
        JsonElement ack = default;
        await Eventually.TrueAsync(async () =>
        {
            var reply = await PublishAsync(alice, "ledger", 4, "k4");
            if (reply.Type() != "ack") return false;
            ack = reply.Data();
            return true;
        }, TimeSpan.FromSeconds(30), "the room took no publish after the database came back");
        Assert.Equal((4L, epoch), (ack.Long("offset"), ack.Str("epoch")));
        Assert.Equal(4, (await PublishAsync(alice, "ledger", 4, "k4")).Data().Long("offset"));

        // The room that could not recover takes the join now.
        await Eventually.TrueAsync(async () =>
        {
            var id = await alice.SendJoinAsync("archive");
            return (await alice.ReceiveReplyAsync(id, TimeSpan.FromSeconds(20))).Type() == "joined";
        }, TimeSpan.FromSeconds(30), "the room never recovered");
        Assert.Equal("ack", (await PublishAsync(alice, "archive", 1, null)).Type());

        // Bob, a member all along, saw 1..4 in order: nothing refused reached him, nothing is missing.
        var seen = new List<(long Offset, long N)>();
        while (seen.Count < 4)
        {
            var message = await bob.ReceiveAsync("message");
            seen.Add((message.Data().Long("offset"), message.Data().GetProperty("payload").Long("n")));
        }
        Assert.Equal([(1, 1), (2, 2), (3, 3), (4, 4)], seen);

        // And a client that comes back later recovers all of it from the database.
        await using var carol = await host.ConnectAuthenticatedAsync("carol");
        var (missed, joined) = await carol.RecoverAsync("ledger", epoch, 0);
        var replayed = missed.Select(m => m.Long("offset"));
        Assert.Equal([1, 2, 3, 4], replayed);
        Assert.True(joined.Bool("recovered"));
        await Eventually.TrueAsync(async () =>
            (await host.Http.GetFromJsonAsync<JsonElement>("health/ready")).Str("status") == "Healthy",
            TimeSpan.FromSeconds(60), "ready did not turn Healthy again");
    }

    private static async Task<JsonElement> PublishAsync(TestClient client, string room, long n, string? key)
    {
        var id = client.NextId("pub");
        await client.SendAsync(new { type = "publish", id, data = new { room, payload = new { n }, idempotencyKey = key } });
        return await client.ReceiveReplyAsync(id, TimeSpan.FromSeconds(20));
    }

    private static async Task<HttpResponseMessage> ApiPublishAsync(BrokerTestHost host, string token, object body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/publish") { Content = JsonContent.Create(body) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await host.Http.SendAsync(request);
    }
}
