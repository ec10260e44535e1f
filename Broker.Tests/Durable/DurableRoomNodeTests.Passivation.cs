namespace Broker.Tests.Durable;

// The room passivates (everyone left, idle past Broker:Rooms:IdleTimeout) and comes back, cycle after cycle.
public sealed partial class DurableRoomNodeTests
{
    [PostgresFact]
    public async Task A_room_passivated_again_and_again_comes_back_each_time_with_its_epoch_and_history()
    {
        const int passivations = 4, perCycle = 5;
        await using var cluster = await StartClusterAsync("room-passivated", ("Broker:Rooms:IdleTimeout", "00:00:02"));
        var room = NewRoom();
        string? epoch = null;
        long offset = 0;
        for (var cycle = 0; cycle <= passivations; cycle++)
        {
            // Each cycle's clients come through other nodes than the last one's.
            await using var reader = await ConnectAsync(cluster.Nodes[cycle % 3], $"reader-{cycle}");
            if (epoch is null)
            {
                epoch = (await reader.JoinAsync(room)).Str("epoch");
            }
            else
            {
                // Back from passivation: the same epoch, and everything published before it.
                var (replayed, joined) = await JoinSinceAsync(reader, room, epoch, 0);
                AssertWholeStream(replayed, epoch, from: 1, to: offset, reader.User);
                Assert.Equal((epoch, offset, true), (joined.Str("epoch"), joined.Long("offset"), joined.Bool("recovered")));
            }
            var host = await cluster.HostOfOnlyRoomAsync();
            Log($"cycle {cycle}: the room is alive on {host}, at offset {offset}");
            if (cycle == passivations) break;

            await using var writer = await ConnectAsync(cluster.Nodes[(cycle + 1) % 3], $"writer-{cycle}");
            var writerJoined = await writer.JoinAsync(room);
            Assert.Equal((epoch, offset), (writerJoined.Str("epoch"), writerJoined.Long("offset")));
            for (var i = 0; i < perCycle; i++)
            {
                var ack = await PublishUntilAckedAsync(writer, room, ++offset);
                Assert.Equal((offset, epoch), (ack.Offset, ack.Epoch));
            }
            var seen = await ReadStreamUntilAsync(reader, room, offset);
            AssertWholeStream(seen.Messages, epoch, from: offset - perCycle + 1, to: offset, reader.User);

            // Everyone leaves (the sockets stay open): the room, empty and idle, passivates.
            foreach (var member in new[] { reader, writer })
            {
                var id = member.NextId("leave");
                await member.SendAsync(new { type = "leave", id, data = new { room } });
                await member.ReceiveAsync("left", id);
            }
            await cluster.NoRoomActiveAsync(TimeSpan.FromSeconds(20));
            Log($"cycle {cycle}: everyone left and the room passivated");
        }
        Log("done");
    }
}
