namespace Broker.Tests.Integration;

/// <summary>
/// A room larger than <c>Broker:Rooms:ParallelFanOutThreshold</c> (set to 5 here) through the real
/// host: its broadcasts are written by the fan-out lanes, and every real WebSocket member still
/// sees one order, offsets 1, 2, 3, … with nothing lost or twice, under concurrent publishers.
/// </summary>
public sealed class ParallelFanOutTests
{
    private const int Subscribers = 40;
    private const int Publishers = 4;
    private const int PerPublisher = 40;

    [Fact]
    public async Task Members_of_a_room_past_the_threshold_see_every_publish_once_in_one_order_under_concurrent_publishers()
    {
        await using var host = await BrokerTestHost.StartAsync(new Dictionary<string, string?>
        {
            ["Broker:Rooms:ParallelFanOutThreshold"] = "5",
        });
        var room = "fan-" + Guid.NewGuid().ToString("N")[..8];
        var subscribers = new List<TestClient>();
        var publishers = new List<TestClient>();
        try
        {
            for (var i = 0; i < Subscribers; i++)
            {
                var client = await host.ConnectAuthenticatedAsync($"fan-sub-{i}");
                subscribers.Add(client);
                Assert.Equal(0, (await client.JoinAsync(room)).Long("offset"));
            }
            for (var p = 0; p < Publishers; p++)
            {
                var client = await host.ConnectAuthenticatedAsync($"fan-pub-{p}");
                publishers.Add(client);
                await client.JoinAsync(room);
            }

            // Each publisher waits for its ack before the next; the four run at once.
            var acks = await Task.WhenAll(publishers.Select((publisher, p) => Task.Run(async () =>
            {
                var offsets = new List<long>();
                for (var s = 1; s <= PerPublisher; s++) offsets.Add(await publisher.PublishAsync(room, new { p, s }));
                return offsets;
            })));

            const int total = Publishers * PerPublisher;
            Assert.Equal(Enumerable.Range(1, total).Select(n => (long)n), acks.SelectMany(a => a).Order());
            var order = new long[total + 1]; // offset → (publisher, sequence), as the first member saw it
            foreach (var member in subscribers.Concat(publishers))
            {
                var next = new int[Publishers];
                var messages = await member.MessagesAsync(total);
                for (var i = 0; i < total; i++)
                {
                    var offset = messages[i].Long("offset");
                    Assert.Equal(i + 1, offset); // consecutive: nothing lost, twice or out of place
                    var payload = messages[i].GetProperty("payload");
                    var (p, s) = (payload.GetProperty("p").GetInt32(), payload.GetProperty("s").GetInt32());
                    Assert.Equal(++next[p], s); // each publisher's own order
                    var key = p * 1000L + s;
                    if (order[offset] == 0) order[offset] = key;
                    Assert.Equal(order[offset], key); // one order for every member
                }
            }
        }
        finally
        {
            foreach (var client in subscribers.Concat(publishers)) await client.DisposeAsync();
        }
    }
}
