using System.Diagnostics;
using System.Threading.Channels;
using HdrHistogram;
using Broker.Bench.Infra;
using Broker.Bench.Load;
using Broker.Bench.Report;
using Broker.Bench.Servers;

namespace Broker.Bench.Scenarios;

/// <summary>
/// big-room (issue #18): N distinct users join one room, for N = 1k, 5k and 15k, each size in a
/// fresh broker process. The room's presence mode is <c>Broker:Rooms:Presence</c> (PROTOCOL §9.3;
/// <c>counts</c> unless <c>--set</c> asks for another). Per N: time to join everyone, frames and
/// bytes the members received per join, the server's CPU per join (from /proc, over the same
/// window), whether every member's view of the count converged to N; then one publisher
/// broadcasts to all N at a fixed rate, every message checked at every member. The claim is
/// flatness: the cost of a join at the largest N against the smallest.
/// </summary>
public static class BigRoomScenario
{
    public const string Room = "big";

    /// <summary>The configuration key of the mode (PROTOCOL §9.3).</summary>
    public const string PresenceKey = "Broker:Rooms:Presence";

    /// <summary>The mode asked for when <c>--set</c> does not name one: the one the issue measures.</summary>
    public const string DefaultPresence = "counts";

    /// <summary>
    /// Joins outstanding at once: the next member sends its join when an earlier one is answered.
    /// Enough to keep the room busy (a join is a few hops inside the server), few enough that the
    /// load generator's sends and the joined frames never queue behind each other.
    /// </summary>
    public const int JoinsInFlight = 64;

    public static readonly int[] Sizes = [1000, 5000, 15_000];
    public static readonly int[] SmokeSizes = [100, 300];

    /// <summary>Members that join and leave a room of their own first, so tiered JIT has compiled the join path before it is measured.</summary>
    private const int WarmUpMembers = 300;

    private static int WarmUpSize(BenchOptions options) => options.Smoke ? 30 : WarmUpMembers;

    /// <summary>Heartbeat interval for the run: pings to 15k idle members would otherwise count towards the join phase's CPU.</summary>
    private static readonly TimeSpan Heartbeat = TimeSpan.FromMinutes(5);

    public sealed record JoinPhase(
        int Round, int Members, string Seen, double ConnectPerSecond, TimeSpan JoinAll, LongHistogram JoinLatency, TimeSpan? Converged,
        double FramesPerJoin, double BytesPerJoin, double JoinedBytes, double CpuMicrosPerJoin, double IdleCpuPercent,
        double ClientCpuPercent, string CountCheck, bool CountInJoined);

    public sealed record BroadcastPhase(
        int Members, double Rate, long Messages, long Deliveries, TimeSpan Elapsed, LongHistogram Latency, double CpuMicrosPerDelivery, bool Complete,
        int Round = 0)
    {
        public double DeliveriesPerSecond => Elapsed.TotalSeconds > 0 ? Deliveries / Elapsed.TotalSeconds : 0;
    }

    public static async Task<ScenarioReport> RunAsync(BenchOptions options)
    {
        var report = new ScenarioReport("big-room");
        var mode = options.BrokerSettings.TryGetValue(PresenceKey, out var asked) && asked.Length > 0 ? asked : DefaultPresence;
        var sizes = options.SubscribersGiven ? options.Subscribers : options.Smoke ? SmokeSizes : Sizes;
        // Each member is a descriptor in both processes; where the hard limit cannot be raised (no
        // CAP_SYS_RESOURCE), stay under it rather than measure accept failures.
        var limit = (long)ResourceLimits.RaiseFileLimit();
        if (limit > 0 && sizes.Any(n => n > limit - 1000))
        {
            report.Notes.Add($"big-room: RLIMIT_NOFILE is {limit:N0} here and cannot be raised; sizes above {limit - 1000:N0} measured at {limit - 1000:N0}.");
            sizes = sizes.Select(n => (int)Math.Min(n, limit - 1000)).Distinct().ToArray();
        }

        var joins = new List<JoinPhase>();
        var broadcasts = new List<BroadcastPhase>();
        // Rounds repeat the sizes in turn (1k, 15k, 1k, 15k, …), so a slow minute of the machine
        // falls on both sizes of a round, and the target is the median of each round's own ratio.
        for (var round = 1; round <= options.Rounds; round++)
        foreach (var n in sizes)
        {
            Console.Error.WriteLine($"big-room: {n} members, presence {mode}{(options.Rounds > 1 ? $", round {round} of {options.Rounds}" : "")}…");
            try
            {
                var (join, broadcast) = await MeasureAsync(round, n, mode, options, report);
                if (join is not null) joins.Add(join);
                if (broadcast is not null) broadcasts.Add(broadcast with { Round = round });
            }
            catch (Exception e)
            {
                report.Failures.Add($"{n} members: {e.GetBaseException().Message}");
            }
        }
        AddTables(report, options, mode, joins, broadcasts);
        report.Notes.Add("big-room: only the broker runs this scenario (--servers is ignored): the raw Kestrel and SignalR baselines have no rooms with presence to compare.");
        report.Notes.Add($"big-room: each size in a fresh broker process, after rounds of {WarmUpSize(options)} members joining and leaving a room of their own until the server's JIT settled (< 5% of a 2 s slice compiling; at least 8 s, at most 60 s); "
                         + $"members connect and authenticate first, then join with {JoinsInFlight} joins in flight (the next join leaves when one is answered); "
                         + $"heartbeat every {Heartbeat.TotalMinutes:0} min so pings stay out of the join phase.");
        report.Notes.Add("big-room: 'join all' and server CPU (utime+stime from /proc/<pid>/stat) run from the first join sent to the last joined received, / N; "
                         + "frames and bytes run on to the moment every member's count reached N (the last occupancy included; pings and each member's own joined excluded), / N; "
                         + "'server idle CPU %' is the same server over the last second before the joins, with the N members connected: the joins start once it is below 10% (or after 30 s), "
                         + "so no size carries the connect phase's tail (not subtracted).");
        return report;
    }

    private static async Task<(JoinPhase?, BroadcastPhase?)> MeasureAsync(int round, int n, string mode, BenchOptions options, ScenarioReport report)
    {
        var label = $"{n} members";
        var failures = new FailureLog();
        await using var server = await ServerProcess.StartAsync(ServerKind.Broker, new Dictionary<string, string>
        {
            [PresenceKey] = mode,
            ["Broker:Heartbeat:Interval"] = Heartbeat.ToString("c"),
        });
        var dialect = Dialect.For(ServerKind.Broker);
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(options.Smoke ? 60 : 900));
        // Rounds of warm-up joins until the server's tiered JIT has settled: after a single round of
        // 300, perf of the 15k join phase still showed the connection's frame handling and the room's
        // join at tier 0 (QuickJitted), so each size measured a different share of unoptimized code.
        var warmUp = await JitSettledWarmUp.RunAsync([server], _ => WarmUpAsync(server, dialect, WarmUpSize(options), deadline.Token),
            options.Smoke ? TimeSpan.Zero : TimeSpan.FromSeconds(8), options.Smoke ? TimeSpan.Zero : TimeSpan.FromSeconds(60));
        report.Notes.Add($"big-room {label}{(options.Rounds > 1 ? $", round {round}" : "")}: {warmUp.Describe()}");

        var members = new BigRoomMember[n];
        var clients = new LeanClient?[n];
        var loops = new List<Task>(n + 1);
        using var stop = new CancellationTokenSource();
        LeanClient? publisher = null;
        try
        {
            // Connect and authenticate everyone first: the join phase measures joins only.
            ClientSockets.NextRun(n + 1);
            var tokens = new string[n];
            for (var i = 0; i < n; i++) tokens[i] = BenchTokens.Create($"m{i}");
            for (var i = 0; i < n; i++) members[i] = new BigRoomMember(i, Room, failures.Add);
            var connectStarted = Stopwatch.GetTimestamp();
            await Parallel.ForEachAsync(Enumerable.Range(0, n), new ParallelOptions { MaxDegreeOfParallelism = 32, CancellationToken = deadline.Token },
                async (i, ct) =>
                {
                    var client = await LeanClient.ConnectAsync(dialect, server.WebSocketUri, tokens[i], i, ct);
                    clients[i] = client;
                    var loop = client.RunAsync(new MemberFrames(members[i]), stop.Token);
                    lock (loops) loops.Add(loop);
                });
            var connectPerSecond = n / Stopwatch.GetElapsedTime(connectStarted).TotalSeconds;

            var join = await JoinAllAsync(server, members, clients, dialect, mode, connectPerSecond, options, failures, deadline.Token) is { } measured
                ? measured with { Round = round }
                : null;
            if (join is null)
            {
                failures.CopyTo(report, label);
                return (null, null);
            }

            // The publisher is a user of its own, joined after the count check (it makes the room N + 1).
            publisher = await LeanClient.ConnectAsync(dialect, server.WebSocketUri, BenchTokens.Create("publisher"), n, deadline.Token);
            await publisher.JoinAsync(Room, deadline.Token);
            var replies = new PublisherReplies(failures.Add);
            loops.Add(publisher.RunAsync(replies, stop.Token));
            var broadcast = await BroadcastAsync(server, members, publisher, dialect, options, failures);
            failures.CopyTo(report, label);
            return (join, broadcast);
        }
        catch (Exception e)
        {
            failures.CopyTo(report, label);
            report.Failures.Add($"{label}: {e.GetBaseException().Message} ({clients.Count(c => c is not null):N0} connected)");
            return (null, null);
        }
        finally
        {
            stop.Cancel();
            await Parallel.ForEachAsync(clients.Append(publisher).Where(c => c is not null), new ParallelOptions { MaxDegreeOfParallelism = 64 },
                async (client, _) => await client!.DisposeAsync());
            try { await Task.WhenAll(loops).WaitAsync(TimeSpan.FromSeconds(10)); }
            catch (Exception) { /* loops end on cancellation or abort */ }
            foreach (var line in server.LogProblems.Lines.Take(5)) report.Notes.Add($"big-room {label}: server logged: {line}");
        }
    }

    /// <summary>
    /// The join phase: joins leave with <see cref="JoinsInFlight"/> outstanding, then the members'
    /// views of the count are given a few occupancy periods to reach N. Null when not every join
    /// was answered (recorded in <paramref name="failures"/>).
    /// </summary>
    private static async Task<JoinPhase?> JoinAllAsync(ServerProcess server, BigRoomMember[] members, LeanClient?[] clients, Dialect dialect,
        string mode, double connectPerSecond, BenchOptions options, FailureLog failures, CancellationToken cancellationToken)
    {
        var n = members.Length;
        var joinFrame = dialect.Join(Room);
        // Not disposed: a joined arriving after a timed-out phase still releases it harmlessly.
        var inFlight = new SemaphoreSlim(JoinsInFlight);
        var latency = new LatencyRecorder();
        var answered = 0;
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        foreach (var member in members)
            member.Joined = m =>
            {
                latency.Record(m.JoinSentAt, m.JoinedAt);
                inFlight.Release();
                if (Interlocked.Increment(ref answered) == n) all.TrySetResult();
            };

        // The server's CPU with N members connected and nothing happening (cluster gossip, timers,
        // background JIT, thread pools spinning on a loaded machine): shown beside the join cost,
        // not subtracted from it (on a shared machine it moves more than the join window's own).
        // After connecting N, a server keeps busy for seconds (half a core at 1k–5k in one run):
        // joins start once its CPU rate has settled, so no size carries the connect phase's tail.
        var idleMsPerMs = await SettleAsync(server, options.Smoke ? TimeSpan.FromSeconds(3) : TimeSpan.FromSeconds(30), cancellationToken);

        var cpuBefore = ServerCpuMs(server);
        var clientBefore = ClientCpuMs();
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < n; i++)
        {
            await inFlight.WaitAsync(cancellationToken);
            members[i].JoinSentAt = Stopwatch.GetTimestamp();
            await clients[i]!.SendAsync(joinFrame, cancellationToken);
        }
        try { await all.Task.WaitAsync(TimeSpan.FromSeconds(options.Smoke ? 30 : 300), cancellationToken); }
        catch (TimeoutException)
        {
            var missing = members.Where(m => m.JoinedAt == 0).ToArray();
            failures.Add($"{missing.Length:N0} of {n:N0} joins unanswered (e.g. member {missing[0].Id}, socket {clients[missing[0].Id]!.State})");
            return null;
        }
        // CPU over the join window itself: the last occupancy tick after it costs one frame per
        // member in all, and waiting for it would add up to a second of idle CPU whatever N is.
        var cpuMs = ServerCpuMs(server) - cpuBefore;
        var clientCpu = (ClientCpuMs() - clientBefore) / Stopwatch.GetElapsedTime(started).TotalMilliseconds * 100;
        var lastJoined = members.Max(m => m.JoinedAt);
        var joinAll = Stopwatch.GetElapsedTime(started, lastJoined);

        // Convergence: occupancy comes at most once per second, so a few seconds; off mode has nothing to converge by.
        TimeSpan? converged = null;
        if (mode != "off")
        {
            var until = Stopwatch.GetTimestamp() + (long)(TimeSpan.FromSeconds(options.Smoke ? 5 : 10).TotalSeconds * Stopwatch.Frequency);
            while (Stopwatch.GetTimestamp() < until)
            {
                if (members.All(m => m.Count == n))
                {
                    converged = Stopwatch.GetElapsedTime(lastJoined);
                    break;
                }
                await Task.Delay(10, cancellationToken);
            }
        }
        long frames = 0, bytes = 0, joinedBytes = 0;
        foreach (var m in members)
        {
            frames += m.Frames;
            bytes += m.Bytes;
            joinedBytes += m.JoinedBytes;
        }
        var seen = SeenMode(members);
        var countCheck = CheckCounts(members, mode, converged is not null, failures, out var predates);
        if (predates)
            failures.Note($"asked for presence '{mode}', but no joined carried a count: this broker predates PROTOCOL §9.3 and ignores {PresenceKey} (the room ran '{seen}')");
        return new JoinPhase(0, n, seen, connectPerSecond, joinAll, latency.Merge(), converged, frames / (double)n, bytes / (double)n,
            joinedBytes / (double)n, cpuMs * 1000 / n, idleMsPerMs * 100, clientCpu, countCheck, !predates);
    }

    /// <summary>Busy below this share of a core, a server is taken as settled.</summary>
    private const double SettledCpu = 0.10;

    /// <summary>
    /// Waits (up to <paramref name="limit"/>) until the server's CPU over one second is below
    /// <see cref="SettledCpu"/> of a core; returns the last second's rate (ms of CPU per ms).
    /// </summary>
    private static async Task<double> SettleAsync(ServerProcess server, TimeSpan limit, CancellationToken cancellationToken)
    {
        var until = Stopwatch.GetTimestamp() + (long)(limit.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            var before = ServerCpuMs(server);
            var started = Stopwatch.GetTimestamp();
            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            var rate = (ServerCpuMs(server) - before) / Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            if (rate < SettledCpu || Stopwatch.GetTimestamp() > until) return rate;
        }
    }

    /// <summary>The mode the room behaved as, from what the members received.</summary>
    private static string SeenMode(BigRoomMember[] members)
    {
        var listed = members.Count(m => m.JoinedMembers is not null);
        var occupancy = members.Sum(m => m.OccupancyFrames);
        var presence = members.Sum(m => m.PresenceFrames);
        if (listed == members.Length) return occupancy > 0 ? "full (+occupancy)" : "full";
        if (listed > 0) return $"full→counts after {listed:N0}";
        if (occupancy > 0) return presence > 0 ? "counts (+presence)" : "counts";
        return presence > 0 ? "presence, no lists" : "off";
    }

    /// <summary>
    /// §9.3's promises to each member: <c>joined</c> has <c>count</c> (1 ≤ count ≤ N), no
    /// <c>members</c> in counts or off mode, and its view of the count reached N. A broker that
    /// sent no count at all predates §9.3 (<paramref name="predates"/>): reported, not failed.
    /// </summary>
    private static string CheckCounts(BigRoomMember[] members, string mode, bool converged, FailureLog failures, out bool predates)
    {
        var n = members.Length;
        var withCount = members.Count(m => m.JoinedCount is not null);
        predates = withCount == 0;
        var problems = new List<string>();
        if (!predates)
        {
            if (withCount < n) problems.Add($"{n - withCount:N0} joined without count");
            var outOfRange = members.FirstOrDefault(m => m.JoinedCount is { } c && (c < 1 || c > n));
            if (outOfRange is not null) problems.Add($"member {outOfRange.Id}'s joined said count {outOfRange.JoinedCount}");
            var listed = members.Count(m => m.JoinedMembers is not null);
            if (mode is "counts" or "off" && listed > 0) problems.Add($"{listed:N0} joined listed members in {mode} mode");
        }
        if (mode != "off" && !converged)
        {
            var wrong = members.Where(m => m.Count != n).ToArray();
            if (wrong.Length > 0) problems.Add($"{wrong.Length:N0} members' count did not reach {n:N0} (e.g. member {wrong[0].Id} saw {wrong[0].Count})");
        }
        foreach (var problem in problems) failures.Add(problem);
        if (problems.Count > 0) return "MISMATCH";
        if (predates) return mode == "off" ? "no count" : $"no count; views {n:N0}";
        return mode == "off" ? "ok (joined)" : $"ok ({n:N0})";
    }

    /// <summary>
    /// One publisher at a fixed rate (open loop, <see cref="OpenLoopPacer"/>): a short warm-up, then
    /// the measured phase; every member must receive every message, in order, once.
    /// </summary>
    private static async Task<BroadcastPhase> BroadcastAsync(ServerProcess server, BigRoomMember[] members, LeanClient publisher, Dialect dialect,
        BenchOptions options, FailureLog failures)
    {
        var n = members.Length;
        var rate = options.RateFor(n);
        var drain = TimeSpan.FromSeconds(options.Smoke ? 20 : 60);
        var sender = new BroadcastSender(publisher, dialect, options.Padding);
        var latency = new LatencyRecorder();

        await sender.SendAsync(rate, TimeSpan.FromSeconds(options.Smoke ? 0.3 : 2), drain, failures);
        await WaitDeliveredAsync(members, sender.LastSent, drain, failures);

        foreach (var m in members) m.Delivered = latency.Record;
        var first = sender.LastSent;
        var cpuBefore = ServerCpuMs(server);
        var started = Stopwatch.GetTimestamp();
        await sender.SendAsync(rate, options.Phase, drain, failures);
        var complete = await WaitDeliveredAsync(members, sender.LastSent, drain, failures);
        var elapsed = Stopwatch.GetElapsedTime(started);
        var cpuMs = ServerCpuMs(server) - cpuBefore;
        foreach (var m in members) m.Delivered = null;
        var messages = sender.LastSent - first;
        long deliveries = 0;
        foreach (var m in members) deliveries += Math.Max(0, Math.Min(m.Next - 1, sender.LastSent) - first);
        return new BroadcastPhase(n, rate, messages, deliveries, elapsed, latency.Merge(), cpuMs * 1000 / Math.Max(1, deliveries), complete);
    }

    /// <summary>True once every member has everything up to <paramref name="lastSent"/>; a timeout is a loss.</summary>
    private static async Task<bool> WaitDeliveredAsync(BigRoomMember[] members, long lastSent, TimeSpan timeout, FailureLog failures)
    {
        var until = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            var behind = members.Where(m => m.Next <= lastSent).ToArray();
            if (behind.Length == 0) return true;
            if (Stopwatch.GetTimestamp() > until)
            {
                var missing = behind.Sum(m => lastSent + 1 - m.Next);
                failures.Add($"{missing:N0} deliveries missing after {timeout.TotalSeconds:0} s at {behind.Length:N0} members (e.g. member {behind[0].Id} at #{behind[0].Next - 1} of {lastSent})");
                return false;
            }
            await Task.Delay(5);
        }
    }

    /// <summary>
    /// Joins <paramref name="count"/> users to a room of their own, waits past an occupancy period,
    /// and closes them: the join, occupancy and leave paths are compiled before the measured joins.
    /// </summary>
    private static async Task WarmUpAsync(ServerProcess server, Dialect dialect, int count, CancellationToken cancellationToken)
    {
        ClientSockets.NextRun(count);
        var clients = new LeanClient?[count];
        try
        {
            await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = cancellationToken },
                async (i, ct) =>
                {
                    var client = await LeanClient.ConnectAsync(dialect, server.WebSocketUri, BenchTokens.Create($"warm-{i}"), i, ct);
                    clients[i] = client;
                    await client.JoinAsync(Room + "-warm-up", ct);
                });
            await Task.Delay(TimeSpan.FromSeconds(1.5), cancellationToken);
        }
        finally
        {
            await Parallel.ForEachAsync(clients.Where(c => c is not null), new ParallelOptions { MaxDegreeOfParallelism = 64 },
                async (client, _) => await client!.DisposeAsync());
        }
        // Until the server has let them all go: their leaves must not land in the measured window.
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while ((await server.StatsAsync()).Connections > 0 && DateTime.UtcNow < until) await Task.Delay(50, cancellationToken);
        await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
    }

    private static double ServerCpuMs(ServerProcess server) =>
        ProcessCpu.Milliseconds(server.Pid) ?? throw new InvalidOperationException($"cannot read /proc/{server.Pid}/stat");

    /// <summary>The load generator's own CPU: near all cores, the clients, not the server, would set the pace.</summary>
    private static double ClientCpuMs()
    {
        using var self = Process.GetCurrentProcess();
        return self.TotalProcessorTime.TotalMilliseconds;
    }

    private static void AddTables(ScenarioReport report, BenchOptions options, string mode, List<JoinPhase> joins, List<BroadcastPhase> broadcasts)
    {
        var rounds = options.Rounds > 1;
        var table = new Table($"big-room: N distinct users join one room, presence '{mode}' asked, {JoinsInFlight} joins in flight",
            (rounds ? ["round"] : Array.Empty<string>()).Concat(["members", "presence seen", "connect/s", "join all s", "joins/s", "join p99 ms", "count converged s", "frames/join", "B/join",
            "joined B", "server idle CPU %", "server µs/join", "vs smallest", "client CPU %", "count check"]).ToArray());
        var smallest = joins.Count > 0 ? joins.Min(j => j.Members) : 0;
        JoinPhase? ReferenceOf(JoinPhase j) => joins.FirstOrDefault(r => r.Round == j.Round && r.Members == smallest);
        foreach (var j in joins)
            table.Add((rounds ? [$"{j.Round}"] : Array.Empty<string>()).Concat([$"{j.Members:N0}", j.Seen, $"{j.ConnectPerSecond:0}", $"{j.JoinAll.TotalSeconds:0.00}", $"{j.Members / j.JoinAll.TotalSeconds:0}",
                Fmt.Ms(j.JoinLatency.GetValueAtPercentile(99)), j.Converged is { } c ? $"{c.TotalSeconds:0.00}" : "no",
                $"{j.FramesPerJoin:0.00}", $"{j.BytesPerJoin:0}", $"{j.JoinedBytes:0}", $"{j.IdleCpuPercent:0.0}", $"{j.CpuMicrosPerJoin:0}",
                ReferenceOf(j) is { } reference ? Fmt.Ratio(j.CpuMicrosPerJoin, reference.CpuMicrosPerJoin) : "n/a", $"{j.ClientCpuPercent:0}", j.CountCheck]).ToArray());
        report.Tables.Add(table);

        var broadcast = new Table($"big-room broadcast: 1 publisher to all N members, open loop, {options.Phase.TotalSeconds:0.#} s",
            (rounds ? ["round"] : Array.Empty<string>()).Concat(["members", "publishes/s", "messages", "deliveries/s", "p50 ms", "p99 ms", "max ms", "server µs/delivery", "checked"]).ToArray());
        foreach (var b in broadcasts)
            broadcast.Add((rounds ? [$"{b.Round}"] : Array.Empty<string>()).Concat([$"{b.Members:N0}", $"{b.Rate:0}", $"{b.Messages:N0}", Fmt.Rate(b.DeliveriesPerSecond),
                Fmt.Ms(b.Latency.GetValueAtPercentile(50)), Fmt.Ms(b.Latency.GetValueAtPercentile(99)), Fmt.Ms(b.Latency.GetMaxValue()),
                $"{b.CpuMicrosPerDelivery:0.00}", b.Complete ? $"ok ({b.Deliveries:N0})" : "INCOMPLETE"]).ToArray());
        report.Tables.Add(broadcast);

        if (joins.Count > 0)
            report.Check("big-room: joined carries count (PROTOCOL §9.3)",
                joins.All(j => j.CountInJoined) ? "yes" : "no count: the broker predates §9.3", joins.All(j => j.CountInJoined));
        var largestSize = joins.Count > 0 ? joins.Max(j => j.Members) : 0;
        // Each round's largest size against the same round's smallest; the median over the rounds.
        var pairs = joins.Where(j => j.Members == largestSize && largestSize > smallest)
            .Select(j => (Largest: j, Reference: ReferenceOf(j)))
            .Where(p => p.Reference is not null)
            .Select(p => (p.Largest, Reference: p.Reference!))
            .ToList();
        if (pairs.Count == 0) return;
        // A smallest size whose joins took less CPU than the process clock's 10 ms tick has no ratio.
        var cpu = pairs.Where(p => p.Reference.CpuMicrosPerJoin > 0).Select(p => (double?)(p.Largest.CpuMicrosPerJoin / p.Reference.CpuMicrosPerJoin)).ToList();
        var time = pairs.Select(p => (double?)(p.Largest.JoinAll.TotalMilliseconds / p.Largest.Members / (p.Reference.JoinAll.TotalMilliseconds / p.Reference.Members))).ToList();
        var median = cpu.Count > 1 ? $" (median of {cpu.Count} rounds: {string.Join(", ", cpu.Select(r => $"{r:0.00}×"))})" : "";
        var medianTime = pairs.Count > 1 ? $" (median of {pairs.Count} rounds: {string.Join(", ", time.Select(r => $"{r:0.00}×"))})" : "";
        var (l, r0) = pairs[0];
        var perJoinTime = Rounds.Median(time)!.Value;
        if (Rounds.Median(cpu) is not { } cpuRatio)
            report.Notes.Add($"big-room: the {smallest:N0} joins took less server CPU than the clock's 10 ms tick: no CPU ratio");
        else
        {
            report.Check($"big-room ({mode}): server CPU per join at {largestSize:N0} ≤ 1.5× at {smallest:N0}",
                cpu.Count > 1 ? $"{cpuRatio:0.00}×{median}" : $"{cpuRatio:0.00}× ({l.CpuMicrosPerJoin:0} µs vs {r0.CpuMicrosPerJoin:0} µs)", cpuRatio <= 1.5);
        }
        report.Check($"big-room ({mode}): join time per member at {largestSize:N0} ≤ 1.5× at {smallest:N0} (linear in N)",
            pairs.Count > 1 ? $"{perJoinTime:0.00}×{medianTime}" : $"{perJoinTime:0.00}× ({l.JoinAll.TotalSeconds:0.00} s vs {r0.JoinAll.TotalSeconds:0.00} s)", perJoinTime <= 1.5);
    }

    /// <summary>The publisher's open-loop sends: one reused frame buffer, sequence numbers continuing across calls.</summary>
    private sealed class BroadcastSender(LeanClient client, Dialect dialect, int padding)
    {
        private readonly byte[] _prefix = dialect.PublishPrefix(Room);
        private readonly byte[] _suffix = dialect.PublishSuffix;
        private readonly byte[] _frame = new byte[dialect.PublishPrefix(Room).Length + Payload.MaxLength(padding) + dialect.PublishSuffix.Length];

        public long LastSent { get; private set; }

        /// <summary><paramref name="rate"/> publishes/s for <paramref name="duration"/>, each stamped with its due time.</summary>
        public async Task SendAsync(double rate, TimeSpan duration, TimeSpan drain, FailureLog failures)
        {
            _prefix.CopyTo(_frame, 0);
            var schedule = Channel.CreateUnbounded<long>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
            using var stop = new CancellationTokenSource(duration + drain);
            var pacing = OpenLoopPacer.RunAsync([schedule.Writer], rate, duration, stop.Token);
            try
            {
                await foreach (var intended in schedule.Reader.ReadAllAsync(stop.Token))
                {
                    var sequence = LastSent + 1;
                    var length = _prefix.Length + Payload.Write(_frame.AsSpan(_prefix.Length), 0, sequence, intended, padding);
                    _suffix.CopyTo(_frame, length);
                    await client.SendAsync(_frame.AsMemory(0, length + _suffix.Length), stop.Token);
                    LastSent = sequence;
                }
                await pacing;
            }
            catch (Exception e) when (e is OperationCanceledException or System.Net.WebSockets.WebSocketException or IOException)
            {
                failures.Add($"publisher could not send its schedule: {e.Message}");
            }
        }
    }

    /// <summary>A member's lean client hands it every frame but pings.</summary>
    private sealed class MemberFrames(BigRoomMember member) : IRecordSink
    {
        public void OnRecord(ReadOnlySpan<byte> record) => member.OnRecord(record);
    }

    /// <summary>The publisher's incoming frames: acks are dropped, an error fails the run.</summary>
    private sealed class PublisherReplies(Action<string> fail) : IRecordSink
    {
        public void OnRecord(ReadOnlySpan<byte> record)
        {
            if (record.StartsWith("{\"type\":\"error\""u8)) fail($"publisher: server error {System.Text.Encoding.UTF8.GetString(record)}");
        }
    }

    /// <summary>The first failures of one size (one loss makes every later message look wrong too), and notes.</summary>
    private sealed class FailureLog
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<string> _failures = new();
        private readonly List<string> _notes = [];
        private int _count;

        public void Add(string failure)
        {
            if (Interlocked.Increment(ref _count) <= 20) _failures.Enqueue(failure);
        }

        public void Note(string note) => _notes.Add(note);

        public void CopyTo(ScenarioReport report, string label)
        {
            while (_failures.TryDequeue(out var failure)) report.Failures.Add($"{label}: {failure}");
            if (_count > 20) report.Failures.Add($"{label}: … {_count - 20:N0} more");
            _count = 0;
            foreach (var note in _notes) report.Notes.Add($"big-room {label}: {note}");
            _notes.Clear();
        }
    }
}
