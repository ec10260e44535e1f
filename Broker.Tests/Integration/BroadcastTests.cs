namespace Broker.Tests.Integration;

/// <summary>A <c>publish</c> without a room reaches every connection of the route, in order, with increasing offsets.</summary>
[Collection(SharedHostCollection.Name)]
public sealed class BroadcastTests(SharedHostFixture fixture)
{
    private const int Clients = 5;
    private const int Messages = 20;

    private BrokerTestHost Host => fixture.Host;

    [Fact]
    public async Task Every_client_of_the_route_receives_every_broadcast_in_order()
    {
        var clients = new List<TestClient>();
        try
        {
            for (var i = 0; i < Clients; i++) clients.Add(await Host.ConnectAuthenticatedAsync($"bc-user-{i}"));
            var publisher = clients[0];

            var acks = new List<(string Id, long Offset)>();
            for (var n = 0; n < Messages; n++)
            {
                var id = $"m-{n}";
                var ack = await publisher.PublishAsync(new JsonObject { ["n"] = n }, id: id);
                Assert.Equal(id, ack.Id());
                acks.Add((id, ack.Data().GetProperty("offset").GetInt64()));
            }
            for (var n = 1; n < acks.Count; n++) Assert.Equal(acks[n - 1].Offset + 1, acks[n].Offset);

            foreach (var client in clients)
            {
                for (var n = 0; n < Messages; n++)
                {
                    var message = await client.ReceiveAsync("message");
                    var data = message.Data();
                    Assert.Equal(n, data.GetProperty("payload").GetProperty("n").GetInt32());
                    Assert.Equal(acks[n].Offset, data.GetProperty("offset").GetInt64());
                    Assert.Equal("bc-user-0", data.GetProperty("from").GetString());
                    Assert.Equal(System.Text.Json.JsonValueKind.Null, data.GetProperty("room").ValueKind);
                    Assert.Equal(System.Text.Json.JsonValueKind.Null, data.GetProperty("epoch").ValueKind);
                }
            }
        }
        finally
        {
            foreach (var client in clients) await client.DisposeAsync();
        }
    }

    [Fact]
    public async Task Exclude_self_skips_the_publisher_but_reaches_everyone_else()
    {
        await using var publisher = await Host.ConnectAuthenticatedAsync("bc-excluder");
        await using var other = await Host.ConnectAuthenticatedAsync("bc-other");

        var ack = await publisher.PublishAsync(new JsonObject { ["secret"] = "not for me" }, excludeSelf: true, id: "ex-1");
        var offset = ack.Data().GetProperty("offset").GetInt64();

        var received = await other.ReceiveAsync("message");
        Assert.Equal(offset, received.Data().GetProperty("offset").GetInt64());

        // A second, non-excluded publish: the publisher's next message must be this one, never the first.
        var second = await publisher.PublishAsync(new JsonObject { ["n"] = 2 }, id: "ex-2");
        var mine = await publisher.ReceiveAsync("message");
        Assert.Equal(second.Data().GetProperty("offset").GetInt64(), mine.Data().GetProperty("offset").GetInt64());
    }
}
