namespace Broker.Tests.Durable;

// The room's node is lost under it: killed mid-stream, killed with a write on its way to disk, killed with the publisher on it, stopped gracefully and started again.
public sealed partial class DurableRoomNodeTests
{
    [PostgresFact]
    public async Task Killing_the_rooms_node_mid_stream_loses_no_acked_message_and_keeps_its_epoch()
    {
        const int total = 50, killAfter = 20;
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
        // Whether the killed node had written it: then the survivor answered its retry from the key it recovered.
        var deduplicated = await DeduplicatedRetriesAsync(cluster);
        Log($"SIGKILL {host} at {killedAt:0.0} s, once publish {inFlight.N} was sent; it was acked {inFlight.At - killedAt:0.0} s later, " +
            $"after {inFlight.Refusals} unavailable; {acks.Sum(a => a.Refusals)} unavailable in all, {deduplicated} retries answered from the key; " +
            $"the room now lives on {await cluster.HostOfOnlyRoomAsync()}");
        Assert.False(host.IsRunning);

        // Each payload was applied once, in the order sent, in the one epoch: payload n at offset n.
        Assert.Equal(Enumerable.Range(1, total).Select(n => (long)n), acks.Select(a => a.Offset));
        Assert.All(acks, a => Assert.Equal((a.N, epoch), (a.Offset, a.Epoch)));

        // The members that stayed joined on the survivors saw the whole stream: no gap, no repeat,
        // the same epoch, and no news of lost history (there was none to lose).
        await AssertMembersSawWholeStreamAsync(room, epoch, total, xavier, yvonne);

        // A client that re-joins from the beginning, on a survivor, gets every acked message.
        await AssertLateJoinerRecoversAllAsync(y, room, epoch, total);
        Log("done");
    }

    [PostgresFact]
    public async Task A_publish_written_as_its_node_dies_is_acked_once_on_retry_and_reaches_the_members_that_stayed()
    {
        const int total = 40, lost = 21;
        var database = await postgres.CreateDatabaseAsync();
        await using var cluster = await StartClusterAsync("written-then-killed", database);
        var room = NewRoom();
        await TouchRoomAsync(cluster.Nodes[0], room);
        var host = await cluster.HostOfOnlyRoomAsync();
        var (x, y) = Others(cluster, host);
        await using var publisher = await ConnectAsync(x, "publisher");
        await using var xavier = await ConnectAsync(x, "xavier");
        await using var yvonne = await ConnectAsync(y, "yvonne");
        var epoch = (await publisher.JoinAsync(room)).Str("epoch");
        Assert.Equal(epoch, (await xavier.JoinAsync(room)).Str("epoch"));
        Assert.Equal(epoch, (await yvonne.JoinAsync(room)).Str("epoch"));

        // The next journal write is held inside its COMMIT (a deferred trigger sleeps), so the node
        // can be killed with the write on its way to disk: PostgreSQL finishes a COMMIT it is
        // running whether or not its client is still there. The room wrote it; nobody was told.
        await using var db = new Npgsql.NpgsqlConnection(database);
        await db.OpenAsync();
        await HoldNextJournalCommitAsync(db);

        var acks = new List<Ack>();
        var sent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var stream = Task.Run(async () =>
        {
            for (long n = 1; n <= total; n++)
            {
                if (n == lost)
                {
                    await using var arm = new Npgsql.NpgsqlConnection(database);
                    await arm.OpenAsync();
                    await ExecuteAsync(arm, "UPDATE broker_test_hold SET armed = true");
                }
                var ack = await PublishUntilAckedAsync(publisher, room, n, n == lost ? () => sent.TrySetResult() : null);
                lock (acks) acks.Add(ack);
            }
        });
        await Task.WhenAny(sent.Task, stream).OrTimeout(Patience);
        if (stream.IsCompleted) await stream;
        await Eventually.TrueAsync(async () => await ScalarAsync(db, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'PgSleep'") == 1,
            $"the node's journal write of publish {lost} held in its COMMIT");
        host.Kill();
        Log($"SIGKILL {host} while its COMMIT of publish {lost} is held");
        await Eventually.TrueAsync(async () => await ScalarAsync(db, "SELECT count(*) FROM broker_test_hold WHERE NOT armed") == 1,
            TimeSpan.FromSeconds(10), $"the killed node's write of publish {lost} committed");
        Log($"publish {lost} is in the journal; its node is gone");

        await stream.OrTimeout(2 * Patience);
        var deduplicated = await DeduplicatedRetriesAsync(cluster);
        Log($"{total} acks; publish {lost} acked after {acks[lost - 1].Refusals} unavailable, {deduplicated} retries answered from the key; " +
            $"the room now lives on {await cluster.HostOfOnlyRoomAsync()}");

        // Applied once: its retry got the offset the killed node had written, and every later publish the next.
        Assert.All(acks, a => Assert.Equal((a.N, epoch), (a.Offset, a.Epoch)));
        await AssertMembersSawWholeStreamAsync(room, epoch, total, xavier, yvonne);
        await AssertLateJoinerRecoversAllAsync(y, room, epoch, total);
        Log("done");
    }

    [PostgresFact]
    public async Task A_publisher_on_the_killed_node_resends_on_a_survivor_with_the_same_key_and_its_message_is_applied_once()
    {
        const int total = 40, killAfter = 20;
        await using var cluster = await StartClusterAsync("publisher-node-killed");
        var room = NewRoom();
        await TouchRoomAsync(cluster.Nodes[0], room);
        var host = await cluster.HostOfOnlyRoomAsync();
        var (x, y) = Others(cluster, host);
        Log($"the room and its publisher live on {host}; members on {x.Name} and {y.Name}");

        var publisher = await ConnectAsync(host, "publisher");
        await using var xavier = await ConnectAsync(x, "xavier");
        await using var yvonne = await ConnectAsync(y, "yvonne");
        var epoch = (await publisher.JoinAsync(room)).Str("epoch");
        Assert.Equal(epoch, (await xavier.JoinAsync(room)).Str("epoch"));
        Assert.Equal(epoch, (await yvonne.JoinAsync(room)).Str("epoch"));
        var acks = new List<Ack>();
        for (long n = 1; n <= killAfter; n++) acks.Add(await PublishUntilAckedAsync(publisher, room, n));

        // Publish killAfter + 1 is on the wire when its node dies with the connection: applied or
        // not, the publisher cannot know. It comes back through a survivor, re-joins from what it
        // had acked, and sends it again with the same key, as PROTOCOL §9.2 says it may.
        var key = $"{room}:{killAfter + 1}";
        await publisher.SendAsync(new { type = "publish", id = "lost", data = new { room, payload = new { n = killAfter + 1 }, idempotencyKey = key } });
        host.Kill();
        Log($"SIGKILL {host} with publish {killAfter + 1} sent");
        var closed = await publisher.ExpectCloseAsync();
        await publisher.DisposeAsync();
        Log($"the publisher's socket ended: {closed}");

        await using var again = await ConnectAsync(x, "publisher");
        var (replayed, joined) = await JoinSinceAsync(again, room, epoch, killAfter);
        Log($"the publisher re-joined on {x.Name}: {replayed.Count} replayed, joined at offset {joined.Long("offset")}");
        Assert.Equal((epoch, true), (joined.Str("epoch"), joined.Bool("recovered")));
        AssertWholeStream(replayed, epoch, from: killAfter + 1, to: joined.Long("offset"), again.User);
        for (long n = killAfter + 1; n <= total; n++) acks.Add(await PublishUntilAckedAsync(again, room, n));
        Log($"{total} acks; the room now lives on {await cluster.HostOfOnlyRoomAsync()}");

        Assert.All(acks, a => Assert.Equal((a.N, epoch), (a.Offset, a.Epoch)));
        await AssertMembersSawWholeStreamAsync(room, epoch, total, xavier, yvonne);
        await AssertLateJoinerRecoversAllAsync(y, room, epoch, total);
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
        await AssertMembersSawWholeStreamAsync(room, epoch, before + during, xavier, yvonne);

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
}
