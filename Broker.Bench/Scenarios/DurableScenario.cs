using System.Diagnostics;
using Broker.Bench.Infra;
using Broker.Bench.Load;
using Broker.Bench.Report;
using Broker.Bench.Servers;
using HdrHistogram;

namespace Broker.Bench.Scenarios;

/// <summary>
/// durable: memory rooms against durable rooms on SQLite and on PostgreSQL (PROTOCOL §9.2), each in
/// a broker process of its own, in one run. Per store: (a) K publishers, each on a room of its own
/// with a window of publishes in flight: acks/s and publish→ack p50/p99, every ack checked
/// (offsets 1, 2, 3, … in one epoch) and every message checked by a witness member; (b) the
/// fan-out load of <see cref="FanOutScenario"/> on one room of M subscribers, its acks checked the
/// same way; (c) for a durable store, the broker is killed (SIGKILL) and one started again on the
/// same store must have every room at the epoch and offset last acked. Ratios are to memory rooms measured in the same run.
/// </summary>
public static class DurableScenario
{
    /// <summary>Publishes in flight per publisher in the publish phase.</summary>
    public const int Window = 32;

    private const string Memory = "memory", Sqlite = "sqlite", PostgreSql = "postgresql";

    /// <summary>The broker's count of journal failures (a write or recovery the store did not take).</summary>
    private const string StoreFailures = "broker_room_store_failures_total";

    /// <summary>What one store measured; <see cref="Skipped"/> or <see cref="SetupFailed"/> instead when it did not run.</summary>
    private sealed class StoreRun(string store)
    {
        public string Store { get; } = store;
        public string? Skipped { get; set; }
        public string? SetupFailed { get; set; }
        public PublishResult? Publish { get; set; }
        public FanOutScenario.Measured? FanOut { get; set; }
        /// <summary>"5/5 rooms in 0.4 s" after a restart on the same store (every room at its last ack; the time its first joins took).</summary>
        public string Restart { get; set; } = "n/a";
        /// <summary>What the store held at the end (durable stores).</summary>
        public StoreContents? StoreRows { get; set; }
        /// <summary>Times a room's journal failed (broker_room_store_failures_total) during the publish phase and the fan-out.</summary>
        public double PublishJournalFailures { get; set; }
        public double FanOutJournalFailures { get; set; }
        /// <summary>Publishes the rooms did not apply twice because their key had been seen (client retries of applied writes).</summary>
        public double Deduplicated { get; set; }
        /// <summary>No correctness failure in the publish phase, in the fan-out.</summary>
        public bool PublishCorrect { get; set; }
        public bool FanOutCorrect { get; set; }
    }

    private sealed record StoreContents(long JournalRows, long Snapshots, long LargestSnapshotBytes);

    private sealed record PublishResult(long Acks, TimeSpan Elapsed, LongHistogram Latency, double ServerMicrosPerPublish, double ServerCpuPercent,
        double JitMethodsPerSecond, double JitPercent, JitSettledWarmUp.Result? WarmUp)
    {
        public double PerSecond => Elapsed.TotalSeconds > 0 ? Acks / Elapsed.TotalSeconds : 0;
    }

    public static async Task<ScenarioReport> RunAsync(BenchOptions options)
    {
        var report = new ScenarioReport("durable");
        var subscribers = options.SubscribersGiven ? options.Subscribers.Max() : options.Smoke ? 20 : 200;
        var runs = new List<StoreRun>();
        foreach (var store in options.Stores)
        {
            var started = Stopwatch.GetTimestamp();
            Console.Error.WriteLine($"durable: {store}…");
            runs.Add(await RunStoreAsync(store, subscribers, options, report));
            Console.Error.WriteLine($"durable: {store} took {Stopwatch.GetElapsedTime(started).TotalSeconds:0.0} s");
        }
        AddTable(report, options, subscribers, runs);
        return report;
    }

    private static async Task<StoreRun> RunStoreAsync(string store, int subscribers, BenchOptions options, ScenarioReport report)
    {
        var run = new StoreRun(store);
        PostgresServer? postgres = null;
        string? sqliteFolder = null;
        try
        {
            var settings = new Dictionary<string, string>();
            switch (store)
            {
                case Memory:
                    settings["Broker:Persistence:Provider"] = "none";
                    report.Notes.Add("durable: memory = Broker:Persistence:Provider=none (rooms in memory only), the reference of every ratio.");
                    break;
                case Sqlite:
                    sqliteFolder = Directory.CreateTempSubdirectory("broker-bench-sqlite-").FullName;
                    var file = Path.Combine(sqliteFolder, "rooms.db");
                    settings["Broker:Persistence:Provider"] = "sqlite";
                    settings["Broker:Persistence:ConnectionString"] = $"Data Source={file}";
                    settings["Broker:Rooms:Durable"] = "true";
                    report.Notes.Add($"durable: sqlite = a fresh file {file} ({FileSystemOf(sqliteFolder)}), Microsoft.Data.Sqlite's defaults (rollback journal, synchronous=FULL).");
                    break;
                case PostgreSql:
                    if (PostgresServer.Missing is { } missing)
                    {
                        run.Skipped = missing;
                        report.Notes.Add($"durable: postgresql skipped: {missing}");
                        return run;
                    }
                    postgres = await PostgresServer.StartAsync(options.PgFsync);
                    settings["Broker:Persistence:Provider"] = "postgresql";
                    settings["Broker:Persistence:ConnectionString"] = await postgres.CreateDatabaseAsync("broker_bench");
                    settings["Broker:Rooms:Durable"] = "true";
                    report.Notes.Add($"durable: postgresql = {postgres.Version} started by the benchmark on 127.0.0.1:{postgres.Port} (TCP, data in /tmp, " +
                                     $"{FileSystemOf("/tmp")}), synchronous_commit=on, fsync={(options.PgFsync ? "on" : "off (--pg-fsync turns it on): commits are not flushed to the disk")}.");
                    break;
                default:
                    throw new ArgumentException($"unknown store {store}");
            }

            var ledger = new AckLedger();
            Step(store, "store ready");
            var server = await ServerProcess.StartAsync(ServerKind.Broker, settings);
            await using (server)
            {
                Step(store, "broker ready");
                var failures = report.Failures.Count;
                run.Publish = await MeasurePublishAsync(server, store, options, ledger, report);
                run.PublishCorrect = report.Failures.Count == failures;
                failures = report.Failures.Count;
                var afterPublish = await server.CounterAsync(StoreFailures);
                run.PublishJournalFailures = afterPublish;
                Step(store, "publish phase done");
                run.FanOut = await FanOutScenario.MeasureAsync(ServerKind.Broker, [server.WebSocketUri], [server], subscribers, options, report,
                    acks: ledger, label: $"{store} fan-out", phase: PhaseOf(options), settleJit: true);
                run.FanOutCorrect = report.Failures.Count == failures;
                run.FanOutJournalFailures = await server.CounterAsync(StoreFailures) - afterPublish;
                run.Deduplicated = await server.CounterAsync("broker_publishes_deduplicated_total");
                Step(store, "fan-out phase done");
                if (run.PublishJournalFailures + run.FanOutJournalFailures > 0)
                    report.Notes.Add($"durable: {store}: a room's journal failed {run.PublishJournalFailures + run.FanOutJournalFailures:0} times ({StoreFailures}): " +
                                     "the publishes it was writing and every publish until a new journal recovered were refused with unavailable; BrokerClient " +
                                     "retried them (same idempotency key, each on its own backoff), so they were applied after later ones of the same publisher: " +
                                     $"the order failures above follow from that. {run.Deduplicated:0} retries were of publishes already applied (deduplicated).");
                // A crash, not a shutdown: whatever was acked must be in the store already (and it is quicker).
                server.Kill();
            }
            NoteServerLog(report, store, server.LogProblems);
            Step(store, "broker stopped");
            if (store != Memory)
            {
                run.Restart = await CheckRestartAsync(store, settings, ledger, report);
                Step(store, "restart checked");
                try { run.StoreRows = await ReadStoreAsync(store, settings); }
                catch (System.Data.Common.DbException e) { report.Notes.Add($"durable: {store}: could not read the store afterwards: {e.Message}"); }
            }
        }
        catch (Exception e)
        {
            // Before anything was measured the row says why; after, the figures stay and the restart check failed.
            if (run.Publish is null && run.FanOut is null) run.SetupFailed = e.GetBaseException().Message.Split('\n')[0];
            else run.Restart = "failed";
            report.Failures.Add($"{store}: {e.GetBaseException().Message}");
        }
        finally
        {
            if (postgres is not null)
            {
                var (lines, count) = postgres.LogProblems();
                if (count > 0) report.Notes.Add($"durable: postgresql's log has {count} WARNING/ERROR/FATAL lines, the first: {string.Join(" | ", lines.Take(2))}");
                await postgres.DisposeAsync();
            }
            if (sqliteFolder is not null)
            {
                try { Directory.Delete(sqliteFolder, recursive: true); }
                catch (IOException) { }
            }
        }
        return run;
    }

    /// <summary>(a): K publishers on rooms of their own, a window each; a warm-up, then the measured phase on the same rooms.</summary>
    private static async Task<PublishResult?> MeasurePublishAsync(ServerProcess server, string store, BenchOptions options, AckLedger ledger, ScenarioReport report)
    {
        var publishers = new List<WindowedPublisher>();
        try
        {
            using (var setup = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
            {
                for (var i = 0; i < options.Publishers; i++)
                    publishers.Add(await WindowedPublisher.StartAsync(server.WebSocketUri, i, $"durable-{i}", options.Padding, ledger, setup.Token));
            }
            // Until the JIT has settled: tiered compilation of the store's code path (linq2db, the provider,
            // Akka.Persistence) took most of the broker's CPU for 20–30 s after start (perf), so a fixed
            // 8 s warm-up measured the compiler rather than the store.
            JitSettledWarmUp.Result? warmUp = null;
            if (options.Smoke)
                await Task.WhenAll(publishers.Select(p => p.RunAsync(Window, TimeSpan.FromSeconds(0.2), null, CancellationToken.None)));
            else
                warmUp = await JitSettledWarmUp.RunAsync([server],
                    slice => Task.WhenAll(publishers.Select(p => p.RunAsync(Window, slice, null, CancellationToken.None))),
                    TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(60));

            var latency = new LatencyRecorder();
            var acksBefore = publishers.Sum(p => ledger.Count(p.Room));
            var before = await server.StatsAsync();
            var started = Stopwatch.GetTimestamp();
            await Task.WhenAll(publishers.Select(p => p.RunAsync(Window, PhaseOf(options), latency, CancellationToken.None)));
            var elapsed = Stopwatch.GetElapsedTime(started);
            var after = await server.StatsAsync();
            var acks = publishers.Sum(p => ledger.Count(p.Room)) - acksBefore;

            var drain = TimeSpan.FromSeconds(options.Smoke ? 20 : 60);
            foreach (var publisher in publishers)
            {
                await publisher.WaitDeliveredAsync(drain);
                foreach (var problem in publisher.Problems) report.Failures.Add($"{store} publish: room {publisher.Room}: {problem}");
                foreach (var problem in ledger.Check(publisher.Room, publisher.Sent)) report.Failures.Add($"{store} publish: {problem}");
                if (publisher.JoinedAt is { Offset: not 0 } joined)
                    report.Failures.Add($"{store} publish: room {publisher.Room} was not fresh (joined at offset {joined.Offset})");
            }
            return new PublishResult(acks, elapsed, latency.Merge(), (after.CpuMs - before.CpuMs) * 1000 / Math.Max(1, acks),
                (after.CpuMs - before.CpuMs) / elapsed.TotalMilliseconds * 100,
                (after.JitMethods - before.JitMethods) / elapsed.TotalSeconds, (after.JitMs - before.JitMs) / elapsed.TotalMilliseconds * 100, warmUp);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            report.Failures.Add($"{store} publish: {e.GetBaseException().Message}");
            return null;
        }
        finally
        {
            foreach (var publisher in publishers) await publisher.DisposeAsync();
        }
    }

    /// <summary>(c): after the first broker's SIGKILL, a broker started again on the same store has every room at the epoch and offset of its last ack.</summary>
    private static async Task<string> CheckRestartAsync(string store, Dictionary<string, string> settings, AckLedger ledger, ScenarioReport report)
    {
        var rooms = ledger.Rooms.Order(StringComparer.Ordinal).ToArray();
        var recovered = 0;
        TimeSpan recoveredIn;
        var server = await ServerProcess.StartAsync(ServerKind.Broker, settings);
        await using (server)
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await using var client = await OfficialClient.ConnectAsync(server.WebSocketUri, BenchTokens.Create("restart-check"), deadline.Token);
            var started = Stopwatch.GetTimestamp();
            // All at once: each room recovers from its snapshot and journal tail on its first join.
            var joins = await Task.WhenAll(rooms.Select(room => client.JoinAsync(room, deadline.Token)));
            recoveredIn = Stopwatch.GetElapsedTime(started);
            foreach (var joined in joins)
            {
                var (epoch, offset) = ledger.Last(joined.Room);
                if (joined.Epoch == epoch && joined.Offset == offset) recovered++;
                else report.Failures.Add($"{store} restart: room {joined.Room} came back at epoch {joined.Epoch} offset {joined.Offset}, acked up to epoch {epoch} offset {offset}");
            }
            server.Kill();
        }
        NoteServerLog(report, $"{store} (restarted)", server.LogProblems);
        return $"{recovered}/{rooms.Length} rooms in {recoveredIn.TotalSeconds:0.0} s";
    }

    /// <summary>Each measured phase's length: <c>--seconds</c>, shorter still in the smoke run (three stores, five broker starts).</summary>
    private static TimeSpan PhaseOf(BenchOptions options) => options.Smoke ? TimeSpan.FromSeconds(0.75) : options.Phase;

    private static void Step(string store, string what)
    {
        if (ServerProcess.Verbose) Console.Error.WriteLine($"durable: {store}: {what} at {DateTime.UtcNow:HH:mm:ss.f}");
    }

    private static void NoteServerLog(ScenarioReport report, string store, (IReadOnlyList<string> Lines, int Count) problems)
    {
        if (problems.Count == 0) return;
        report.Notes.Add($"durable: the {store} broker logged {problems.Count} warnings/errors, e.g. {string.Join(" | ", problems.Lines.Take(3))}");
    }

    private static void AddTable(ScenarioReport report, BenchOptions options, int subscribers, List<StoreRun> runs)
    {
        var memory = runs.FirstOrDefault(r => r.Store == Memory);
        var memoryPublishes = memory?.Publish?.PerSecond ?? 0;
        var memoryDeliveries = memory?.FanOut?.Throughput.DeliveriesPerSecond ?? 0;

        var publishes = new Table($"durable publish: {options.Publishers} publishers, each to a room of its own, {Window} publishes in flight each",
            "store", "publishes/s", "vs memory", "ack p50 ms", "ack p99 ms", "ack max ms", "server µs/publish", "server CPU %", "JIT methods/s", "JIT %",
            "warm-up s", "journal failures", "after restart", "journal rows left", "largest snapshot KiB", "checked");
        foreach (var run in runs)
        {
            if (NotRun(run) is { } why)
            {
                publishes.Add(WhyRow(run.Store, why, 16));
                continue;
            }
            var p = run.Publish;
            publishes.Add(run.Store,
                p is null ? "failed" : Fmt.Rate(p.PerSecond), p is null ? "" : Fmt.Ratio(p.PerSecond, memoryPublishes),
                p is null ? "" : Fmt.Ms(p.Latency.GetValueAtPercentile(50)), p is null ? "" : Fmt.Ms(p.Latency.GetValueAtPercentile(99)),
                p is null ? "" : Fmt.Ms(p.Latency.GetMaxValue()), p is null ? "" : $"{p.ServerMicrosPerPublish:0}", p is null ? "" : $"{p.ServerCpuPercent:0}",
                p is null ? "" : $"{p.JitMethodsPerSecond:0}", p is null ? "" : $"{p.JitPercent:0}", WarmUpCell(p?.WarmUp),
                run.Store == Memory ? "n/a" : $"{run.PublishJournalFailures:0}", run.Restart, run.StoreRows?.JournalRows.ToString("N0") ?? "n/a",
                run.StoreRows is { } rows ? Fmt.KiB(rows.LargestSnapshotBytes) : "n/a",
                run.PublishCorrect ? $"ok ({p?.Acks ?? 0:N0})" : "FAILED");
        }
        report.Tables.Add(publishes);

        var rate = options.RateFor(subscribers);
        var fanOuts = new Table($"durable fan-out: 1 room, {subscribers} subscribers, {options.Publishers} publishers, latency at {rate:0} publishes/s open loop",
            "store", "deliveries/s", "vs memory", "p50 ms", "p99 ms", "max ms", "server µs/delivery", "server CPU %", "client CPU %", "JIT %", "warm-up s",
            "journal failures", "checked");
        foreach (var run in runs)
        {
            if (NotRun(run) is { } why)
            {
                fanOuts.Add(WhyRow(run.Store, why, 13));
                continue;
            }
            if (run.FanOut is not { } f)
            {
                fanOuts.Add(run.Store, "failed");
                continue;
            }
            var deliveries = f.Throughput.DeliveriesPerSecond;
            fanOuts.Add(run.Store, Fmt.Rate(deliveries), Fmt.Ratio(deliveries, memoryDeliveries),
                Fmt.Ms(f.Latency.Latency.GetValueAtPercentile(50)), Fmt.Ms(f.Latency.Latency.GetValueAtPercentile(99)), Fmt.Ms(f.Latency.Latency.GetMaxValue()),
                $"{f.CpuMicrosPerDelivery:0.00}", $"{f.CpuPercent:0}", $"{f.ClientCpuPercent:0}", $"{f.JitPercent:0}", WarmUpCell(f.WarmUp), run.Store == Memory ? "n/a" : $"{run.FanOutJournalFailures:0}",
                run.FanOutCorrect && f.Latency.Complete && f.Throughput.Complete ? $"ok ({f.Latency.Deliveries + f.Throughput.Deliveries:N0})" : "FAILED");
            if (run.Store != Memory && memoryDeliveries > 0)
                report.Check($"durable {run.Store}: fan-out deliveries/s within 10% of memory rooms", Fmt.Ratio(deliveries, memoryDeliveries), deliveries >= 0.9 * memoryDeliveries);
        }
        report.Tables.Add(fanOuts);

        report.Notes.Add($"durable publish: publishes/s = acks of the measured phase ({PhaseOf(options).TotalSeconds:0.##} s, after a warm-up) over its length; ack latency " +
                         $"from the publish call to its ack, {Window} in flight per publisher (closed loop: it includes waiting behind the publisher's own window) " +
                         $"and at most {WindowedPublisher.MaxUndelivered} ahead of the room's witness member, which checks every message; server µs/publish is the " +
                         "broker's CPU time over the acks; JIT = methods the broker's JIT compiled per second of the phase, and its compile time over the phase's length. " +
                         $"warm-up s = how long each phase's warm-up ran: until the broker's JIT compile time was under {JitSettledWarmUp.SettledJitShare * 100:0}% of " +
                         "2 s of wall time (at least 8 s, at most 60 s; a * marks a warm-up that hit the cap with the JIT still busy).");
        report.Notes.Add("durable: after restart = the broker SIGKILLed after the fan-out, a new one on the same store, every room joined at once: how many came back at " +
                         "their last acked epoch and offset, and how long those first joins (each room's recovery) took. journal rows left and largest snapshot: " +
                         "read from the store afterwards (rows the snapshots' clean-up has not deleted; the biggest snapshot blob).");
    }

    private static string WarmUpCell(JitSettledWarmUp.Result? warmUp) =>
        warmUp is null ? "" : $"{warmUp.Took.TotalSeconds:0}{(warmUp.Settled ? "" : "*")}";

    /// <summary>A row for a store that did not run: the reason in its last column ("checked"), so the figures' columns stay narrow.</summary>
    private static string[] WhyRow(string store, string why, int columns)
    {
        var cells = Enumerable.Repeat("", columns).ToArray();
        cells[0] = store;
        cells[^1] = why;
        return cells;
    }

    private static string? NotRun(StoreRun run) =>
        run.Skipped is { } skipped ? $"skipped: {skipped}" : run.SetupFailed is { } failed ? $"set-up failed: {failed}" : null;

    /// <summary>What the store holds after the run: journal rows, and the largest snapshot (Akka.Persistence.Sql's default tables).</summary>
    private static async Task<StoreContents> ReadStoreAsync(string store, Dictionary<string, string> settings)
    {
        var connectionString = settings["Broker:Persistence:ConnectionString"];
        await using System.Data.Common.DbConnection connection = store == Sqlite
            ? new Microsoft.Data.Sqlite.SqliteConnection(new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString)
            : new Npgsql.NpgsqlConnection(new Npgsql.NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync();
        async Task<long> ScalarAsync(string sql)
        {
            await using var command = connection.CreateCommand();
            command.CommandText = sql;
            return Convert.ToInt64(await command.ExecuteScalarAsync() ?? 0L, System.Globalization.CultureInfo.InvariantCulture);
        }
        var length = store == Sqlite ? "length" : "octet_length";
        return new StoreContents(await ScalarAsync("select count(*) from journal"),
            await ScalarAsync("select count(*) from snapshot"),
            await ScalarAsync($"select coalesce(max({length}(snapshot)), 0) from snapshot"));
    }

    /// <summary>The file system a folder is on (from /proc/mounts), so the report says what a commit's flush costs.</summary>
    private static string FileSystemOf(string folder)
    {
        try
        {
            var full = Path.GetFullPath(folder);
            var best = ("", "");
            foreach (var line in File.ReadLines("/proc/mounts"))
            {
                var parts = line.Split(' ');
                if (parts.Length < 3) continue;
                var mount = parts[1];
                if ((full == mount || full.StartsWith(mount.TrimEnd('/') + "/", StringComparison.Ordinal)) && mount.Length >= best.Item1.Length)
                    best = (mount, parts[2]);
            }
            return best.Item2.Length > 0 ? $"{best.Item2} at {best.Item1}" : "file system unknown";
        }
        catch (IOException) { return "file system unknown"; }
    }
}
