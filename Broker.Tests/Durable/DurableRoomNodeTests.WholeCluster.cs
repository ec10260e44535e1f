namespace Broker.Tests.Durable;

// Every node killed at once and started again.
public sealed partial class DurableRoomNodeTests
{
    [PostgresFact]
    public async Task Killing_every_node_and_starting_them_again_keeps_the_rooms_epoch_history_and_next_offset()
    {
        const int total = 20;
        await using var cluster = await StartClusterAsync("every-node-killed");
        var room = NewRoom();
        string epoch;
        await using (var writer = await ConnectAsync(cluster.Nodes[0], "writer"))
        {
            epoch = (await writer.JoinAsync(room)).Str("epoch");
            for (long n = 1; n <= total; n++)
            {
                var ack = await PublishUntilAckedAsync(writer, room, n);
                Assert.Equal((n, epoch), (ack.Offset, ack.Epoch));
            }
            cluster.KillAll();
            Log($"SIGKILL every node after {total} acks");
        }

        await cluster.StartAllAsync();
        Log("every node started again and Up");

        // From every node: the same epoch and every acked message.
        var readers = new List<TestClient>();
        try
        {
            foreach (var node in cluster.Nodes)
            {
                var reader = await ConnectAsync(node, $"reader-{node.Name}");
                readers.Add(reader);
                var (replayed, joined) = await JoinSinceAsync(reader, room, epoch, 0);
                AssertWholeStream(replayed, epoch, from: 1, to: total, reader.User);
                Assert.Equal((epoch, (long)total, true), (joined.Str("epoch"), joined.Long("offset"), joined.Bool("recovered")));
            }

            // The stream goes on where it stopped: the last publish sent again with its key gets
            // its first ack (and is not applied again), and the next one gets offset total + 1.
            var again = await PublishUntilAckedAsync(readers[1], room, total);
            Assert.Equal(((long)total, epoch), (again.Offset, again.Epoch));
            var next = await PublishUntilAckedAsync(readers[1], room, total + 1);
            Assert.Equal(((long)total + 1, epoch), (next.Offset, next.Epoch));
            foreach (var reader in readers)
            {
                var seen = await ReadStreamUntilAsync(reader, room, total + 1);
                AssertWholeStream(seen.Messages, epoch, from: total + 1, to: total + 1, reader.User);
            }
        }
        finally
        {
            foreach (var reader in readers) await reader.DisposeAsync();
        }
        Log("done");
    }
}
