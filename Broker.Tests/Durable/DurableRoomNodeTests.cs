using System.Diagnostics;
using Xunit.Abstractions;

namespace Broker.Tests.Durable;

/// <summary>
/// Durable rooms (PROTOCOL §9.2) on three real node processes (<see cref="BrokerProcess"/>) and a
/// real PostgreSQL (issue #17): a room keeps every acknowledged message, once, in order and in one
/// epoch, through the loss of its node (NodeLoss: SIGKILL in the middle of a stream, with a write
/// on its way to disk, with the publisher on it; SIGTERM and a restart on the same ports), the
/// SIGKILL of every node (WholeCluster) and passivation again and again (Passivation). Each test
/// owns a database of the shared server and a cluster of its own; the nodes' logs are kept (the
/// folder is in the test output). Here: what the tests share.
/// </summary>
[Collection(DurableNodesCollection.Name)]
[Trait("Category", "Cluster")]
public sealed partial class DurableRoomNodeTests(PostgresServer postgres, ITestOutputHelper output)
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

    // ---- the cluster ----

    private async Task<BrokerProcessCluster> StartClusterAsync(string name, params (string Key, string Value)[] more) =>
        await StartClusterAsync(name, await postgres.CreateDatabaseAsync(), more);

    private async Task<BrokerProcessCluster> StartClusterAsync(string name, string database, params (string Key, string Value)[] more)
    {
        var settings = new Dictionary<string, string>
        {
            ["Broker:Persistence:Provider"] = "postgresql",
            ["Broker:Persistence:ConnectionString"] = database,
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

    /// <summary>
    /// Makes the room exist, with no member left in it, so its node can be found before anyone
    /// joins: a client joins and leaves. (Not <c>GET /api/rooms</c>: a room's first answer on a
    /// busy, just-formed cluster can outlast <c>Broker:Limits:AskTimeout</c>, and that API's 503
    /// then comes cut short, a product bug that Integration/ApiUnavailableTests shows.)
    /// </summary>
    private static async Task TouchRoomAsync(BrokerProcess node, string room)
    {
        await using var toucher = await ConnectAsync(node, "toucher");
        var join = await toucher.SendJoinAsync(room);
        await toucher.ReceiveAsync("joined", join, Patience);
        var leave = toucher.NextId("leave");
        await toucher.SendAsync(new { type = "leave", id = leave, data = new { room } });
        await toucher.ReceiveAsync("left", leave);
    }

    private static async Task<TestClient> ConnectAsync(BrokerProcess node, string user)
    {
        var client = await TestClient.ConnectAuthenticatedAsync(node.WebSocketUri(), TestTokens.Valid(user), autoPong: true);
        Assert.Equal(user, client.User);
        return client;
    }

    // ---- the database ----

    /// <summary>
    /// Arms a deferred trigger on the journal table: once <c>broker_test_hold.armed</c> is set, the
    /// next transaction that writes a journal row sleeps 3 s inside its COMMIT (and disarms it in
    /// the same transaction, so <c>armed</c> false means that write committed).
    /// </summary>
    private async Task HoldNextJournalCommitAsync(Npgsql.NpgsqlConnection db)
    {
        var journal = await ScalarTextAsync(db, "SELECT table_name FROM information_schema.columns " +
            "WHERE table_schema = 'public' AND column_name = 'sequence_number' AND table_name LIKE '%journal%' AND table_name NOT LIKE '%meta%' ORDER BY table_name LIMIT 1");
        Assert.False(string.IsNullOrEmpty(journal), "no journal table in the room store");
        Log($"journal table: {journal}");
        await ExecuteAsync(db, $$"""
            CREATE TABLE broker_test_hold (armed boolean NOT NULL);
            INSERT INTO broker_test_hold VALUES (false);
            CREATE FUNCTION broker_test_hold() RETURNS trigger LANGUAGE plpgsql AS $fn$
            BEGIN
              IF (SELECT armed FROM broker_test_hold) THEN
                UPDATE broker_test_hold SET armed = false;
                PERFORM pg_sleep(3);
              END IF;
              RETURN NULL;
            END $fn$;
            CREATE CONSTRAINT TRIGGER broker_test_hold AFTER INSERT ON "{{journal}}"
              DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION broker_test_hold();
            """);
    }

    private static async Task ExecuteAsync(Npgsql.NpgsqlConnection db, string sql)
    {
        await using var command = new Npgsql.NpgsqlCommand(sql, db);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<long> ScalarAsync(Npgsql.NpgsqlConnection db, string sql)
    {
        await using var command = new Npgsql.NpgsqlCommand(sql, db);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task<string?> ScalarTextAsync(Npgsql.NpgsqlConnection db, string sql)
    {
        await using var command = new Npgsql.NpgsqlCommand(sql, db);
        return await command.ExecuteScalarAsync() as string;
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

    /// <summary>Retries the running nodes answered from a key they had seen (<c>broker_publishes_deduplicated_total</c>, summed).</summary>
    private static async Task<double> DeduplicatedRetriesAsync(BrokerProcessCluster cluster)
    {
        var deduplicated = 0.0;
        foreach (var node in cluster.Running) deduplicated += await node.MetricAsync("broker_publishes_deduplicated_total");
        return deduplicated;
    }

    /// <summary>The members that stayed joined saw offsets 1..<paramref name="total"/> of one epoch, no gap, no repeat, and no news of lost history.</summary>
    private async Task AssertMembersSawWholeStreamAsync(string room, string epoch, long total, params TestClient[] members)
    {
        foreach (var member in members)
        {
            var seen = await ReadStreamUntilAsync(member, room, total);
            AssertWholeStream(seen.Messages, epoch, from: 1, to: total, member.User);
            Assert.DoesNotContain(seen.Joins, j => j.Str("epoch") != epoch || !j.Bool("recovered"));
            if (seen.Joins.Count > 0) Log($"{member.User} was given {seen.Joins.Count} joined without id: {string.Join(", ", seen.Joins)}");
        }
    }

    /// <summary>A client that re-joins from the beginning on <paramref name="node"/> gets every acked message, same epoch, <c>recovered:true</c>.</summary>
    private static async Task AssertLateJoinerRecoversAllAsync(BrokerProcess node, string room, string epoch, long total)
    {
        await using var late = await ConnectAsync(node, "late");
        var (replayed, joined) = await JoinSinceAsync(late, room, epoch, 0);
        AssertWholeStream(replayed, epoch, from: 1, to: total, late.User);
        Assert.Equal((epoch, total, true), (joined.Str("epoch"), joined.Long("offset"), joined.Bool("recovered")));
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

/// <summary>
/// The node-process tests run alone, after the parallel part of the suite: three broker processes
/// and PostgreSQL load a 2-core machine enough to starve the timing tests running beside them
/// (heartbeats of tens of milliseconds). A PostgreSQL server of their own.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DurableNodesCollection : ICollectionFixture<PostgresServer>
{
    public const string Name = "durable-nodes";
}
