using System.Diagnostics;
using System.Net.Http.Headers;
using Xunit.Abstractions;

namespace Broker.Tests.Durable;

/// <summary>
/// Durable rooms (PROTOCOL §9.2) on three real node processes (<see cref="BrokerProcess"/>) and a
/// real PostgreSQL (issue #17): a room keeps every acknowledged message, in order and in one epoch,
/// through the SIGKILL of its node in the middle of a stream, the SIGKILL of every node, and
/// passivation again and again. Each test owns a database of the shared server and a cluster of
/// its own; the nodes' logs are kept (the folder is in the test output).
/// </summary>
[Collection(PostgresCollection.Name)]
[Trait("Category", "Cluster")]
public sealed class DurableRoomNodeTests(PostgresServer postgres, ITestOutputHelper output)
{
    /// <summary>
    /// Bounds one publish, retries included, and a member's wait for the next frame: after a node
    /// is killed its room answers again once the node is downed (~2 s of failure detection and 2 s
    /// of stable-after) and the shard is started elsewhere.
    /// </summary>
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(45);

    /// <summary>A client's pause before it publishes again after <c>unavailable</c>.</summary>
    private static readonly TimeSpan RetryBackoff = TimeSpan.FromMilliseconds(100);

    /// <summary>Between two publishes of a stream: a live stream, not one burst that is over before the kill.</summary>
    private static readonly TimeSpan StreamPace = TimeSpan.FromMilliseconds(25);

    private readonly Stopwatch _clock = Stopwatch.StartNew();

    [PostgresFact]
    public async Task Killing_the_rooms_node_mid_stream_loses_no_acked_message_and_keeps_its_epoch()
    {
        const int total = 60, killAfter = 20;
        await using var cluster = await StartClusterAsync("room-node-killed");
        var room = NewRoom();
        await TouchRoomAsync(cluster.Nodes[0], room);
        var host = await cluster.HostOfOnlyRoomAsync();
        var (x, y) = Others(cluster, host);
        Log($"the room lives on {host}; members on {x.Name} and {y.Name}");

        await using var publisher = await ConnectAsync(x, "publisher");
        await using var xavier = await ConnectAsync(x, "xavier");
        await using var yvonne = await ConnectAsync(y, "yvonne");
        var epoch = (await publisher.JoinAsync(room)).Str("epoch");
        Assert.Equal(epoch, (await xavier.JoinAsync(room)).Str("epoch"));
        Assert.Equal(epoch, (await yvonne.JoinAsync(room)).Str("epoch"));

        // The publisher streams payloads 1…total, one at a time, each until it is acked. The node
        // is killed from the publisher's side the moment publish killAfter + 1 is on the wire, so
        // that one is most likely in flight (at the members' node, in the room, or being written).
        var acks = new List<Ack>();
        var killedAt = 0.0;
        void KillHost()
        {
            host.Kill();
            killedAt = _clock.Elapsed.TotalSeconds;
        }
        var stream = Task.Run(async () =>
        {
            for (long n = 1; n <= total; n++)
            {
                var ack = await PublishUntilAckedAsync(publisher, room, n, n == killAfter + 1 ? KillHost : null);
                lock (acks) acks.Add(ack);
                await Task.Delay(StreamPace);
            }
        });
        await stream.OrTimeout(2 * Patience);
        var inFlight = acks[killAfter];
        Log($"SIGKILL {host} at {killedAt:0.0} s, once publish {inFlight.N} was sent; it was acked {inFlight.At - killedAt:0.0} s later, " +
            $"after {inFlight.Refusals} unavailable; {acks.Sum(a => a.Refusals)} unavailable in all; the room now lives on {await cluster.HostOfOnlyRoomAsync()}");
        Assert.False(host.IsRunning);

        // Each payload was applied once, in the order sent, in the one epoch: payload n at offset n.
        Assert.Equal(Enumerable.Range(1, total).Select(n => (long)n), acks.Select(a => a.Offset));
        Assert.All(acks, a => Assert.Equal((a.N, epoch), (a.Offset, a.Epoch)));

        // The members that stayed joined on the survivors saw the whole stream: no gap, no repeat,
        // the same epoch, and no news of lost history (there was none to lose).
        foreach (var member in new[] { xavier, yvonne })
        {
            var seen = await ReadStreamUntilAsync(member, room, total);
            AssertWholeStream(seen.Messages, epoch, from: 1, to: total, member.User);
            Assert.DoesNotContain(seen.Joins, j => j.Str("epoch") != epoch || !j.Bool("recovered"));
            if (seen.Joins.Count > 0) Log($"{member.User} was given {seen.Joins.Count} joined without id: {string.Join(", ", seen.Joins)}");
        }

        // A client that re-joins from the beginning, on a survivor, gets every acked message.
        await using var late = await ConnectAsync(y, "late");
        var (replayed, joined) = await JoinSinceAsync(late, room, epoch, 0);
        AssertWholeStream(replayed, epoch, from: 1, to: total, late.User);
        Assert.Equal((epoch, (long)total, true), (joined.Str("epoch"), joined.Long("offset"), joined.Bool("recovered")));
        Log("done");
    }

    [PostgresFact]
    public async Task Stopping_the_rooms_node_gracefully_hands_the_room_over_and_the_node_rejoins_on_its_ports()
    {
        const int before = 10, during = 10;
        await using var cluster = await StartClusterAsync("room-node-stopped");
        var room = NewRoom();
        await TouchRoomAsync(cluster.Nodes[0], room);
        var host = await cluster.HostOfOnlyRoomAsync();
        var (x, y) = Others(cluster, host);
        await using var xavier = await ConnectAsync(x, "xavier");
        await using var yvonne = await ConnectAsync(y, "yvonne");
        var epoch = (await xavier.JoinAsync(room)).Str("epoch");
        Assert.Equal(epoch, (await yvonne.JoinAsync(room)).Str("epoch"));
        for (long n = 1; n <= before; n++)
        {
            var ack = await PublishUntilAckedAsync(xavier, room, n);
            Assert.Equal((n, epoch), (ack.Offset, ack.Epoch));
        }

        // SIGTERM: the node leaves the cluster and hands its shards off; the room starts on a survivor from its journal.
        await host.StopAsync();
        Log($"SIGTERM {host}: exited");
        for (long n = before + 1; n <= before + during; n++)
        {
            var ack = await PublishUntilAckedAsync(xavier, room, n);
            Assert.Equal((n, epoch), (ack.Offset, ack.Epoch));
        }
        Log($"the room lives on {await cluster.HostOfOnlyRoomAsync()}");
        foreach (var member in new[] { xavier, yvonne })
        {
            var seen = await ReadStreamUntilAsync(member, room, before + during);
            AssertWholeStream(seen.Messages, epoch, from: 1, to: before + during, member.User);
            Assert.DoesNotContain(seen.Joins, j => j.Str("epoch") != epoch || !j.Bool("recovered"));
        }

        // Started again on the same ports, it rejoins the cluster (PROTOCOL §9.6) and serves the room's whole history.
        await host.StartAsync();
        await cluster.WaitForMembersAsync(3);
        Log($"{host} started again and Up");
        await using var back = await ConnectAsync(host, "back");
        var (replayed, joined) = await JoinSinceAsync(back, room, epoch, 0);
        AssertWholeStream(replayed, epoch, from: 1, to: before + during, back.User);
        Assert.Equal((epoch, (long)(before + during), true), (joined.Str("epoch"), joined.Long("offset"), joined.Bool("recovered")));
        var next = await PublishUntilAckedAsync(back, room, before + during + 1);
        Assert.Equal(((long)(before + during + 1), epoch), (next.Offset, next.Epoch));
        foreach (var member in new[] { xavier, yvonne })
            AssertWholeStream((await ReadStreamUntilAsync(member, room, next.Offset)).Messages, epoch, from: next.Offset, to: next.Offset, member.User);
        Log("done");
    }

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

    // ---- the cluster ----

    private async Task<BrokerProcessCluster> StartClusterAsync(string name, params (string Key, string Value)[] more)
    {
        var settings = new Dictionary<string, string>
        {
            ["Broker:Persistence:Provider"] = "postgresql",
            ["Broker:Persistence:ConnectionString"] = await postgres.CreateDatabaseAsync(),
        };
        foreach (var (key, value) in more) settings[key] = value;
        var cluster = await BrokerProcessCluster.StartAsync(name, 3, settings);
        Log($"3 nodes Up: {string.Join(", ", cluster.Nodes)}; logs in {cluster.LogDirectory}");
        return cluster;
    }

    private static (BrokerProcess, BrokerProcess) Others(BrokerProcessCluster cluster, BrokerProcess host)
    {
        var others = cluster.Nodes.Where(n => n != host).ToArray();
        return (others[0], others[1]);
    }

    private static string NewRoom() => $"ledger-{Guid.NewGuid():N}";

    /// <summary>Makes the room exist (the presence API starts it) with no member in it, so its node can be found before anyone joins.</summary>
    private static async Task TouchRoomAsync(BrokerProcess node, string room)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"api/rooms/{room}");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TestTokens.Valid("ops", scope: "broker:publish"));
        using var response = await node.Http.SendAsync(request);
        response.EnsureSuccessStatusCode();
    }

    private static async Task<TestClient> ConnectAsync(BrokerProcess node, string user)
    {
        var client = await TestClient.ConnectAuthenticatedAsync(node.WebSocketUri(), TestTokens.Valid(user), autoPong: true);
        Assert.Equal(user, client.User);
        return client;
    }

    // ---- the stream ----

    /// <summary>A publish's ack: payload <c>n</c>, the offset and epoch the room gave it, how many attempts before were refused, and when (test seconds).</summary>
    private sealed record Ack(long N, long Offset, string Epoch, int Refusals, double At);

    /// <summary>A message a client received: its offset and epoch, and the payload's <c>n</c>.</summary>
    private sealed record Message(long Offset, string Epoch, long N);

    /// <summary>
    /// Publishes <c>{"n":n}</c> with the key of <c>n</c> until it is acked. <c>unavailable</c> (the
    /// room's node is lost, the room is moving) is sent again with the same key after a pause, as
    /// PROTOCOL §9.1–9.2 tell a client to; any other answer fails the test.
    /// </summary>
    /// <param name="sent">Called once the first attempt is on the wire.</param>
    private async Task<Ack> PublishUntilAckedAsync(TestClient client, string room, long n, Action? sent = null)
    {
        var key = $"{room}:{n}";
        var deadline = DateTime.UtcNow + Patience;
        for (var refusals = 0; ; refusals++)
        {
            var id = client.NextId("pub");
            await client.SendAsync(new { type = "publish", id, data = new { room, payload = new { n }, idempotencyKey = key } });
            if (refusals == 0) sent?.Invoke();
            var reply = await client.ReceiveReplyAsync(id, Remaining(deadline, $"publish {n}"));
            if (reply.Type() == "ack") return new Ack(n, reply.Data().Long("offset"), reply.Data().Str("epoch"), refusals, _clock.Elapsed.TotalSeconds);
            Assert.True(reply.ErrorCode() == "unavailable", $"publish {n} (key {key}) was answered {reply}; only an ack or error unavailable may answer it");
            await Task.Delay(RetryBackoff);
        }
    }

    /// <summary>What a member that stayed joined received, up to the message at offset <paramref name="last"/>: the messages, and any <c>joined</c> without id it was given.</summary>
    private static async Task<(List<Message> Messages, List<JsonElement> Joins)> ReadStreamUntilAsync(TestClient member, string room, long last)
    {
        var messages = new List<Message>();
        var joins = new List<JsonElement>();
        var deadline = DateTime.UtcNow + Patience;
        while (messages.Count == 0 || messages[^1].Offset < last)
        {
            JsonElement frame;
            try
            {
                frame = await member.ReceiveAsync(timeout: Remaining(deadline, $"{member.User}'s message at offset {last}"));
            }
            catch (TimeoutException e)
            {
                throw new Xunit.Sdk.XunitException($"{member.User} never received offset {last}: {e.Message}; it got {Offsets(messages)}");
            }
            switch (frame.Type())
            {
                case "message" when frame.Data().Str("room") == room:
                    messages.Add(ToMessage(frame));
                    break;
                case "joined" when frame.Id() is null:
                    joins.Add(frame.Data());
                    break;
                case "presence" or "occupancy":
                    break;
                default:
                    throw new Xunit.Sdk.XunitException($"{member.User} got {frame} in the middle of the stream (after {Offsets(messages)})");
            }
        }
        return (messages, joins);
    }

    /// <summary>Joins with <c>since</c>; returns the messages replayed before <c>joined</c>, and its data.</summary>
    private static async Task<(List<Message> Replayed, JsonElement Joined)> JoinSinceAsync(TestClient client, string room, string epoch, long since)
    {
        var id = await client.SendJoinAsync(room, epoch, since);
        var replayed = new List<Message>();
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            var frame = await client.ReceiveAsync(timeout: Remaining(deadline, $"{client.User}'s joined"));
            if (frame.Type() == "joined" && frame.Id() == id) return (replayed, frame.Data());
            if (frame.Type() == "message" && frame.Data().Str("room") == room) replayed.Add(ToMessage(frame));
            else if (frame.Type() is not ("presence" or "occupancy"))
                throw new Xunit.Sdk.XunitException($"{client.User}'s join with since ({epoch}, {since}) got {frame} (after {Offsets(replayed)})");
        }
    }

    /// <summary>Offsets <paramref name="from"/>…<paramref name="to"/>, each once and in order, all in <paramref name="epoch"/>, payload n at offset n.</summary>
    private static void AssertWholeStream(List<Message> messages, string epoch, long from, long to, string who)
    {
        var expected = Enumerable.Range((int)from, (int)(to - from + 1)).Select(o => (long)o).ToArray();
        Assert.True(expected.SequenceEqual(messages.Select(m => m.Offset)),
            $"{who} got offsets {Offsets(messages)}, expected {from}…{to}, each once, in order");
        Assert.All(messages, m => Assert.Equal((epoch, m.Offset), (m.Epoch, m.N)));
    }

    private static Message ToMessage(JsonElement frame)
    {
        var data = frame.Data();
        return new Message(data.Long("offset"), data.Str("epoch"), data.GetProperty("payload").Long("n"));
    }

    /// <summary>Offsets as runs (<c>1–20, 22–60</c>), so a gap or a repeat stands out.</summary>
    private static string Offsets(List<Message> messages)
    {
        if (messages.Count == 0) return "nothing";
        var runs = new List<string>();
        var start = messages[0].Offset;
        for (var i = 1; i <= messages.Count; i++)
        {
            if (i < messages.Count && messages[i].Offset == messages[i - 1].Offset + 1) continue;
            var end = messages[i - 1].Offset;
            runs.Add(start == end ? $"{start}" : $"{start}–{end}");
            if (i < messages.Count) start = messages[i].Offset;
        }
        return string.Join(", ", runs);
    }

    private static TimeSpan Remaining(DateTime deadline, string what)
    {
        var left = deadline - DateTime.UtcNow;
        if (left <= TimeSpan.Zero) throw new TimeoutException($"{what}: not within {Patience}");
        return left;
    }

    private void Log(string what) => output.WriteLine($"{_clock.Elapsed.TotalSeconds,6:0.0} s  {what}");
}
