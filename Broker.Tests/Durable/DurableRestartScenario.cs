namespace Broker.Tests.Durable;

/// <summary>
/// One scenario both stores run: three restarts of a node, ten keyed publishes each, with snapshots
/// small enough to delete events before them; then every acked message comes back with the same
/// epoch, and a key from the first run is still known.
/// </summary>
internal static class DurableRestartScenario
{
    public static async Task RestartsLoseNothingAsync(Dictionary<string, string?> settings, string room)
    {
        string? epoch = null;
        for (var round = 0; round < 3; round++)
        {
            await using var host = await BrokerTestHost.StartAsync(settings);
            await using var alice = await host.ConnectAuthenticatedAsync("alice");
            var joined = await alice.JoinAsync(room);
            epoch ??= joined.Str("epoch");
            Assert.Equal((epoch, round * 10L), (joined.Str("epoch"), joined.Long("offset")));
            for (var n = round * 10 + 1; n <= round * 10 + 10; n++)
            {
                var ack = await PublishAsync(alice, room, n, "k" + n);
                Assert.Equal((n, epoch), (ack.Long("offset"), ack.Str("epoch")));
            }
        }

        await using var last = await BrokerTestHost.StartAsync(settings);
        await using var bob = await last.ConnectAuthenticatedAsync("bob");
        var (missed, recovered) = await bob.RecoverAsync(room, epoch!, 0);
        var replayed = missed.Select(m => m.GetProperty("payload").Long("n"));
        Assert.Equal(Enumerable.Range(1, 30).Select(n => (long)n), replayed);
        Assert.True(recovered.Bool("recovered"));
        // A key from the first run is still known: the retry gets its first ack, not a 31st message.
        Assert.Equal(3, (await PublishAsync(bob, room, 3, "k3")).Long("offset"));
        Assert.Equal(31, (await PublishAsync(bob, room, 31, "k31")).Long("offset"));
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
