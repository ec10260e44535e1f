using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;

namespace Broker.Tests.Durable;

/// <summary>
/// Durable rooms through the real host on an embedded SQLite file (PROTOCOL §9.2): what a user of
/// the standalone broker gets. A host stopped and started again on the same file is a restart.
/// </summary>
public sealed class DurableRoomHostTests : IDisposable
{
    private readonly string _file = Path.Combine(Path.GetTempPath(), $"broker-durable-{Guid.NewGuid():N}.db");

    private Dictionary<string, string?> Sqlite(params (string Key, string Value)[] more)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Broker:Persistence:Provider"] = "sqlite",
            ["Broker:Persistence:ConnectionString"] = $"Data Source={_file}",
        };
        foreach (var (key, value) in more) settings[key] = value;
        return settings;
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var file in new[] { _file, _file + "-journal", _file + "-wal", _file + "-shm" })
            if (File.Exists(file)) File.Delete(file);
    }

    /// <summary>What a client that was away gets: a fresh connection joins with <c>since</c>.</summary>
    private static async Task<(List<long> Replayed, JsonElement Joined)> ReturnAsync(BrokerTestHost host, string room, string epoch, long since)
    {
        await using var returning = await host.ConnectAuthenticatedAsync("returning");
        var (missed, joined) = await returning.RecoverAsync(room, epoch, since);
        return (missed.Select(m => m.GetProperty("payload").Long("n")).ToList(), joined);
    }

    private static async Task<JsonElement> PublishWithKeyAsync(TestClient client, string room, long n, string? key)
    {
        var id = client.NextId("pub");
        await client.SendAsync(new { type = "publish", id, data = new { room, payload = new { n }, idempotencyKey = key } });
        return await client.ReceiveReplyAsync(id);
    }

    [Fact]
    public async Task A_restarted_host_keeps_a_rooms_epoch_and_replays_what_a_client_missed()
    {
        string epoch;
        await using (var host = await BrokerTestHost.StartAsync(Sqlite()))
        {
            await using var alice = await host.ConnectAuthenticatedAsync("alice");
            epoch = (await alice.JoinAsync("diary")).Str("epoch");
            for (var n = 1; n <= 5; n++)
            {
                var ack = (await PublishWithKeyAsync(alice, "diary", n, null)).Data();
                Assert.Equal((n, epoch), (ack.Long("offset"), ack.Str("epoch")));
            }
        }

        await using var restarted = await BrokerTestHost.StartAsync(Sqlite());
        await using var bob = await restarted.ConnectAuthenticatedAsync("bob");
        var (missed, joined) = await bob.RecoverAsync("diary", epoch, 2);
        var replayed = missed.Select(m => m.GetProperty("payload").Long("n"));
        Assert.Equal([3, 4, 5], replayed);
        Assert.Equal((epoch, 5L, true), (joined.Str("epoch"), joined.Long("offset"), joined.Bool("recovered")));
        var next = (await PublishWithKeyAsync(bob, "diary", 6, null)).Data();
        Assert.Equal((6L, epoch), (next.Long("offset"), next.Str("epoch")));
    }

    [Fact]
    public Task Snapshots_and_journal_clean_up_lose_nothing_over_several_restarts() =>
        // A snapshot every 3 publishes deletes the events before it: sequence numbers must go on past them.
        DurableRestartScenario.RestartsLoseNothingAsync(Sqlite(("Broker:Persistence:SnapshotEvery", "3")), "log");

    [Fact]
    public async Task A_publish_sent_again_with_its_key_gets_the_first_ack_and_members_receive_it_once()
    {
        await using var host = await BrokerTestHost.StartAsync(Sqlite());
        await using var alice = await host.ConnectAuthenticatedAsync("alice");
        await using var bob = await host.ConnectAuthenticatedAsync("bob");
        await alice.JoinAsync("orders");
        await bob.JoinAsync("orders");

        var first = (await PublishWithKeyAsync(alice, "orders", 1, "order-17")).Data();
        var again = (await PublishWithKeyAsync(alice, "orders", 1, "order-17")).Data();
        Assert.Equal((first.Long("offset"), first.Str("epoch")), (again.Long("offset"), again.Str("epoch")));
        await PublishWithKeyAsync(alice, "orders", 2, "order-18");

        // Bob's stream: offset 1 then 2, the repeat never in between.
        var m1 = await bob.ReceiveAsync("message");
        var m2 = await bob.ReceiveAsync("message");
        Assert.Equal((1L, 1L), (m1.Data().Long("offset"), m1.Data().GetProperty("payload").Long("n")));
        Assert.Equal((2L, 2L), (m2.Data().Long("offset"), m2.Data().GetProperty("payload").Long("n")));
    }

    [Fact]
    public async Task The_api_deduplicates_by_key_too_across_a_restart_and_refuses_a_bad_key()
    {
        var token = TestTokens.Valid("backend", scope: "broker:publish");
        JsonElement first;
        await using (var host = await BrokerTestHost.StartAsync(Sqlite()))
        {
            first = await ApiPublishAsync(host, token, new { room = "billing", payload = new { n = 1 }, idempotencyKey = "invoice-9" }, HttpStatusCode.Accepted);
            var again = await ApiPublishAsync(host, token, new { room = "billing", payload = new { n = 1 }, idempotencyKey = "invoice-9" }, HttpStatusCode.Accepted);
            Assert.Equal(first.GetRawText(), again.GetRawText());
            var bad = await ApiPublishAsync(host, token, new { room = "billing", payload = 1, idempotencyKey = new string('k', 65) }, HttpStatusCode.BadRequest);
            Assert.Contains("idempotencyKey", bad.Str("error"));
        }

        await using var restarted = await BrokerTestHost.StartAsync(Sqlite());
        var afterRestart = await ApiPublishAsync(restarted, token, new { room = "billing", payload = new { n = 1 }, idempotencyKey = "invoice-9" }, HttpStatusCode.Accepted);
        Assert.Equal(first.GetRawText(), afterRestart.GetRawText());
        var next = await ApiPublishAsync(restarted, token, new { room = "billing", payload = new { n = 2 } }, HttpStatusCode.Accepted);
        Assert.Equal(first.Long("offset") + 1, next.Long("offset"));
    }

    [Theory]
    [InlineData("\"\"")]
    [InlineData("42")]
    [InlineData("\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"")] // 65
    public async Task A_bad_idempotency_key_over_websocket_is_bad_request_and_the_connection_stays(string key)
    {
        await using var host = await BrokerTestHost.StartAsync(Sqlite());
        await using var alice = await host.ConnectAuthenticatedAsync("alice");
        await alice.JoinAsync("r");
        await alice.SendTextAsync($$$"""{"type":"publish","id":"p1","data":{"room":"r","payload":1,"idempotencyKey":{{{key}}}}}""");
        Assert.Equal("bad_request", (await alice.ReceiveReplyAsync("p1")).ErrorCode());
        Assert.Equal(1, await alice.PublishAsync("r", 1));
    }

    [Fact]
    public async Task A_namespace_can_keep_its_rooms_in_memory_and_bound_their_history()
    {
        var settings = Sqlite(("Broker:Rooms:Namespaces:live:Durable", "false"), ("Broker:Rooms:Namespaces:short:HistorySize", "2"));
        string durableEpoch, liveEpoch;
        await using (var host = await BrokerTestHost.StartAsync(settings))
        {
            await using var alice = await host.ConnectAuthenticatedAsync("alice");
            durableEpoch = (await alice.JoinAsync("kept")).Str("epoch");
            liveEpoch = (await alice.JoinAsync("live:ticker")).Str("epoch");
            await alice.JoinAsync("short:feed");
            await alice.PublishAsync("live:ticker", new { n = 1 });
            for (var n = 1; n <= 4; n++) await alice.PublishAsync("short:feed", new { n });
            var (replayed, joined) = await ReturnAsync(host, "short:feed", (await alice.JoinAsync("short:feed")).Str("epoch"), 0);
            Assert.Equal([3, 4], replayed);
            Assert.False(joined.Bool("recovered"));
        }

        await using var restarted = await BrokerTestHost.StartAsync(settings);
        await using var bob = await restarted.ConnectAuthenticatedAsync("bob");
        Assert.Equal(durableEpoch, (await bob.JoinAsync("kept")).Str("epoch"));
        var (_, live) = await bob.RecoverAsync("live:ticker", liveEpoch, 0);
        Assert.NotEqual(liveEpoch, live.Str("epoch"));
        Assert.False(live.Bool("recovered"));
    }

    [Fact]
    public async Task Messages_leave_history_after_the_ttl_period_after_period()
    {
        // Long enough that "at once" holds on a loaded 2-core machine (a fresh client's connect, auth
        // and join took more than 0.5 s under a load of 19), short enough for three periods.
        await using var host = await BrokerTestHost.StartAsync(Sqlite(("Broker:Rooms:HistoryTtl", "00:00:02")));
        await using var alice = await host.ConnectAuthenticatedAsync("alice");
        var epoch = (await alice.JoinAsync("news")).Str("epoch");
        for (var period = 1; period <= 3; period++)
        {
            var offset = await alice.PublishAsync("news", new { n = period });
            // At once, the message is there for a client that missed it...
            var (fresh, freshJoined) = await ReturnAsync(host, "news", epoch, offset - 1);
            Assert.Equal([period], fresh);
            Assert.True(freshJoined.Bool("recovered"));
            // ...and once its TTL has passed it is gone, and the client is told it missed something.
            await Eventually.TrueAsync(async () =>
            {
                var (old, joined) = await ReturnAsync(host, "news", epoch, offset - 1);
                return old.Count == 0 && !joined.Bool("recovered");
            }, TimeSpan.FromSeconds(10), $"period {period}: the message outlived its TTL");
        }
    }

    [Theory]
    [InlineData("Broker:Persistence:Provider", "sqlite", "Broker:Cluster:SeedNodes", "akka.tcp://broker@127.0.0.1:1", "Broker:Persistence:Provider")]
    [InlineData("Broker:Persistence:Provider", "postgresql", "Broker:Persistence:ConnectionString", null, "Broker:Persistence:ConnectionString")]
    [InlineData("Broker:Persistence:Provider", "mysql", "Broker:Persistence:ConnectionString", null, "Broker:Persistence:Provider")]
    [InlineData("Broker:Persistence:Provider", "none", "Broker:Rooms:Durable", "true", "Broker:Rooms:Durable")]
    [InlineData("Broker:Persistence:Provider", "postgresql", "Broker:Persistence:ConnectionString", "Host=127.0.0.1;Port=1;Username=x;Timeout=1", "Broker:Persistence:ConnectionString")]
    public async Task A_store_that_cannot_work_is_refused_at_start_up_naming_the_key(string key1, string value1, string key2, string? value2, string named)
    {
        var settings = new Dictionary<string, string?> { [key1] = value1, [key2] = value2, ["Broker:Persistence:StartTimeout"] = "00:00:01" };
        var error = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var host = await BrokerTestHost.StartAsync(settings);
        });
        Assert.Contains(named, error.ToString());
        Assert.DoesNotContain("Password", error.ToString());
    }

    [Fact]
    public async Task Ready_says_which_store_durable_rooms_use()
    {
        await using var host = await BrokerTestHost.StartAsync(Sqlite());
        var ready = await host.Http.GetFromJsonAsync<JsonElement>("health/ready");
        Assert.Equal("Healthy", ready.Str("status"));
        var store = ready.GetProperty("checks").GetProperty("room-store");
        Assert.Equal("Healthy", store.Str("status"));
        Assert.Contains("SQLite", store.Str("description"));
    }

    private static async Task<JsonElement> ApiPublishAsync(BrokerTestHost host, string token, object body, HttpStatusCode expected)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/publish") { Content = JsonContent.Create(body) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await host.Http.SendAsync(request);
        Assert.Equal(expected, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }
}
