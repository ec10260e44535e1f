namespace Broker.Tests.Durable;

/// <summary>
/// The single-node durable-room guarantees on PostgreSQL, the clustered store: a restart keeps the
/// epoch and every acked message, through snapshots that delete the events before them, and keys.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class DurableRoomPostgresTests(PostgresServer postgres)
{
    [PostgresFact]
    public async Task Restarts_with_snapshots_and_clean_up_lose_no_acked_message_and_keep_the_epoch()
    {
        var settings = new Dictionary<string, string?>
        {
            ["Broker:Persistence:Provider"] = "postgresql",
            ["Broker:Persistence:ConnectionString"] = await postgres.CreateDatabaseAsync(),
            ["Broker:Persistence:SnapshotEvery"] = "4",
        };
        string? epoch = null;
        for (var round = 0; round < 3; round++)
        {
            await using var host = await BrokerTestHost.StartAsync(settings);
            await using var alice = await host.ConnectAuthenticatedAsync("alice");
            var joined = await alice.JoinAsync("pg-log");
            epoch ??= joined.Str("epoch");
            Assert.Equal((epoch, round * 10L), (joined.Str("epoch"), joined.Long("offset")));
            for (var n = round * 10 + 1; n <= round * 10 + 10; n++)
            {
                var ack = await PublishAsync(alice, "pg-log", n, "k" + n);
                Assert.Equal((n, epoch), (ack.Long("offset"), ack.Str("epoch")));
            }
        }

        await using var last = await BrokerTestHost.StartAsync(settings);
        await using var bob = await last.ConnectAuthenticatedAsync("bob");
        var id = await bob.SendJoinAsync("pg-log", epoch, 0);
        var replayed = new List<long>();
        JsonElement recovered;
        while (true)
        {
            var frame = await bob.ReceiveAsync();
            if (frame.Type() == "message") replayed.Add(frame.Data().GetProperty("payload").Long("n"));
            if (frame.Type() == "joined" && frame.Id() == id) { recovered = frame.Data(); break; }
        }
        Assert.Equal(Enumerable.Range(1, 30).Select(n => (long)n), replayed);
        Assert.True(recovered.Bool("recovered"));
        // A key from the first run is still known: the retry gets its first ack, not a 31st message.
        Assert.Equal(3, (await PublishAsync(bob, "pg-log", 3, "k3")).Long("offset"));
        Assert.Equal(31, (await PublishAsync(bob, "pg-log", 31, "k31")).Long("offset"));
    }

    private static async Task<JsonElement> PublishAsync(TestClient client, string room, long n, string key)
    {
        var id = client.NextId("pub");
        await client.SendAsync(new { type = "publish", id, data = new { room, payload = new { n }, idempotencyKey = key } });
        var reply = await client.ReceiveReplyAsync(id);
        Assert.Equal("ack", reply.Type());
        return reply.Data();
    }
}
