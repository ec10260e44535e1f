namespace Broker.Tests.Durable;

public sealed partial class DurableRoomNodeTests
{
    /// <summary>
    /// A rolling upgrade as an orchestrator runs one (issue #20): every node of the three, one at a
    /// time, stopped with SIGTERM and started again on its ports, while a publisher publishes to a
    /// durable room without pause. The publisher and a member are each on a node that leaves in
    /// turn: they get 1001, reconnect to a node that stays, and go on (the member re-joins with
    /// <c>since</c>). No acknowledged message is lost, none is applied twice, the room keeps its
    /// epoch, and the member sees every offset once and in order. The test reports how long the
    /// room could not take a publish around each restart.
    /// </summary>
    [Fact]
    public async Task A_rolling_restart_of_every_node_under_publish_load_loses_no_acked_message()
    {
        // A history window that holds the whole run (a few hundred publishes), so a late joiner can be checked for all of them.
        await using var cluster = await StartClusterAsync("rolling-restart", ("Broker:Rooms:HistorySize", "10000"));
        var room = NewRoom();
        BrokerProcess? leaving = null;
        BrokerProcess Stayer(BrokerProcess? avoid) =>
            cluster.Nodes.First(n => n.IsRunning && n != leaving && n != avoid);

        var closes = new List<int?>();
        var acks = new List<Ack>();
        var outages = new List<(double From, double To)>();
        using var stop = new CancellationTokenSource();

        // The publisher: publishes n = 1, 2, … each until acked (same key on every retry), moving to
        // a staying node whenever its node closes its socket.
        var publisherNode = cluster.Nodes[0];
        var publisher = await ConnectAsync(publisherNode, "publisher");
        var epoch = (await publisher.JoinAsync(room)).Str("epoch");
        // Joined before the first publish, so its stream starts at offset 1.
        var memberNode = cluster.Nodes[1];
        var member = await ConnectAsync(memberNode, "member");
        Assert.Equal(epoch, (await member.JoinAsync(room)).Str("epoch"));
        var publishing = Task.Run(async () =>
        {
            double? refusedSince = null;
            for (long n = 1; !stop.IsCancellationRequested; n++)
            {
                var key = $"{room}:{n}";
                while (true)
                {
                    try
                    {
                        var id = publisher.NextId("pub");
                        await publisher.SendAsync(new { type = "publish", id, data = new { room, payload = new { n }, idempotencyKey = key } });
                        var reply = await publisher.ReceiveReplyAsync(id, Patience);
                        if (reply.Type() == "ack")
                        {
                            lock (acks) acks.Add(new Ack(n, reply.Data().Long("offset"), reply.Data().Str("epoch"), 0, _clock.Elapsed.TotalSeconds));
                            if (refusedSince is { } since) lock (outages) outages.Add((since, _clock.Elapsed.TotalSeconds));
                            refusedSince = null;
                            break;
                        }
                        Assert.True(reply.ErrorCode() == "unavailable", $"publish {n} was answered {reply}");
                        refusedSince ??= _clock.Elapsed.TotalSeconds;
                        await Task.Delay(RetryBackoff);
                    }
                    catch (Exception) when (publisher.Closed.IsCompleted)
                    {
                        refusedSince ??= _clock.Elapsed.TotalSeconds;
                        var publisherClose = (await publisher.Closed).Status;
                        lock (closes) closes.Add(publisherClose);
                        await publisher.DisposeAsync();
                        publisherNode = Stayer(publisherNode);
                        publisher = await ConnectAsync(publisherNode, "publisher");
                        Assert.Equal(epoch, (await JoinWhenAvailableAsync(publisher, room, null, null)).Str("epoch"));
                        Log($"publisher moved to {publisherNode} at n={n}");
                    }
                }
                await Task.Delay(StreamPace);
            }
        });

        // The member: reads the stream; when its node leaves it re-joins on a staying node with since.
        var seen = new List<Message>();
        var reading = Task.Run(async () =>
        {
            while (true)
            {
                try
                {
                    var frame = await member.ReceiveAsync(timeout: Patience);
                    if (frame.Type() == "message" && frame.Data().Str("room") == room) lock (seen) seen.Add(ToMessage(frame));
                    else if (frame.Type() == "joined" && frame.Id() is null)
                        Assert.Fail($"the member was told of lost history: {frame}");
                }
                catch (Exception) when (member.Closed.IsCompleted)
                {
                    var memberClose = (await member.Closed).Status;
                    lock (closes) closes.Add(memberClose);
                    if (stop.IsCancellationRequested && memberClose == 1000) return;
                    await member.DisposeAsync();
                    memberNode = Stayer(memberNode);
                    member = await ConnectAsync(memberNode, "member");
                    long last;
                    lock (seen) last = seen.Count == 0 ? 0 : seen[^1].Offset;
                    var (replayed, joined) = await JoinSinceWhenAvailableAsync(member, room, epoch, last);
                    Assert.Equal((epoch, true), (joined.Str("epoch"), joined.Bool("recovered")));
                    lock (seen) seen.AddRange(replayed);
                    Log($"member moved to {memberNode} after offset {last}, {replayed.Count} replayed");
                }
                catch (TimeoutException) when (stop.IsCancellationRequested) { return; }
            }
        });

        await Eventually.TrueAsync(() => { lock (acks) return acks.Count >= 20; }, Patience, "20 publishes acked before the first restart");
        foreach (var node in cluster.Nodes)
        {
            leaving = node;
            int before;
            lock (acks) before = acks.Count;
            await node.StopAsync();
            Log($"SIGTERM {node}: exited ({before} acked before it)");
            leaving = null;
            await node.StartAsync();
            await cluster.WaitForMembersAsync(3);
            Log($"{node} back, 3 members Up");
            // The stream goes on after each restart before the next one starts.
            await Eventually.TrueAsync(() => { lock (acks) return acks.Count >= before + 20; }, Patience, $"20 more publishes acked after {node} came back");
        }

        await stop.CancelAsync();
        await publishing.WaitAsync(Patience);
        long total;
        lock (acks) total = acks[^1].Offset;
        Ack[] acked;
        lock (acks) acked = [.. acks];
        Assert.True(acked.Select(a => a.Offset).SequenceEqual(Enumerable.Range(1, acked.Length).Select(i => (long)i)),
            "the acks' offsets are not 1, 2, 3, … (a message applied twice or lost)");
        Assert.All(acked, a => Assert.Equal((epoch, a.Offset), (a.Epoch, a.N)));

        await Eventually.TrueAsync(() => { lock (seen) return seen.Count > 0 && seen[^1].Offset >= total; }, Patience, $"the member reached offset {total}");
        await member.CloseAsync();
        await reading.WaitAsync(Patience);
        List<Message> stream;
        lock (seen) stream = [.. seen];
        AssertWholeStream(stream.Where(m => m.Offset <= total).ToList(), epoch, from: 1, to: total, "member");
        await AssertLateJoinerRecoversAllAsync(Stayer(null), room, epoch, total);

        int?[] closed;
        lock (closes) closed = [.. closes];
        Assert.NotEmpty(closed);
        Assert.All(closed.Where(c => c != 1000), c => Assert.Equal(1001, c));
        Log($"{total} publishes acked in one epoch over 3 rolling restarts; closes seen: {string.Join(", ", closed)}");
        foreach (var (from, to) in outages)
            Log($"the room took no publish for {to - from:0.00} s (from {from:0.0} s)");
        await publisher.DisposeAsync();
    }

    /// <summary>A join (no <c>since</c>), sent again while the room answers <c>unavailable</c> (it is moving to another node).</summary>
    private async Task<JsonElement> JoinWhenAvailableAsync(TestClient client, string room, string? epoch, long? since)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            var id = await client.SendJoinAsync(room, epoch, since);
            var reply = await client.ReceiveReplyAsync(id, Remaining(deadline, $"{client.User}'s join"));
            if (reply.Type() == "joined") return reply.Data();
            Assert.True(reply.ErrorCode() == "unavailable", $"{client.User}'s join was answered {reply}");
            await Task.Delay(RetryBackoff);
        }
    }

    /// <summary><see cref="JoinSinceAsync"/>, sent again while the room answers <c>unavailable</c>.</summary>
    private async Task<(List<Message> Replayed, JsonElement Joined)> JoinSinceWhenAvailableAsync(TestClient client, string room, string epoch, long since)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            var id = await client.SendJoinAsync(room, epoch, since);
            var replayed = new List<Message>();
            while (true)
            {
                var frame = await client.ReceiveAsync(timeout: Remaining(deadline, $"{client.User}'s joined"));
                if (frame.Type() == "joined" && frame.Id() == id) return (replayed, frame.Data());
                if (frame.Type() == "message" && frame.Data().Str("room") == room) replayed.Add(ToMessage(frame));
                else if (frame.Type() == "error" && frame.Id() == id && frame.ErrorCode() == "unavailable") break;
                else if (frame.Type() is not ("presence" or "occupancy"))
                    throw new Xunit.Sdk.XunitException($"{client.User}'s join with since ({epoch}, {since}) got {frame}");
            }
            await Task.Delay(RetryBackoff);
        }
    }
}
