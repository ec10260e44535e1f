using HdrHistogram;
using Broker.Bench.Infra;
using Broker.Bench.Load;
using Broker.Bench.Report;
using Broker.Bench.Servers;

namespace Broker.Bench.Scenarios;

/// <summary>
/// fan-out: one room, M subscribers, P publishers, against the broker and both baselines in turn,
/// each in its own server process. Per server: a warm-up, an open-loop latency phase at a fixed
/// rate (HdrHistogram, from the intended send time), then a throughput phase (as fast as a
/// window of broadcasts in flight allows) for deliveries/s and the server's own allocated bytes
/// per delivery. Every message is checked for order and completeness by every subscriber.
/// </summary>
public static class FanOutScenario
{
    /// <summary>Broadcasts in flight per publisher in the throughput phase: far below the 1,000-frame outbound queues.</summary>
    public const int Window = 100;

    /// <summary>Distinct user ids among subscribers: keeps the broker's per-join presence and member list out of a broadcast benchmark (see docs).</summary>
    public const int DistinctUsers = 64;

    public sealed record Measured(ServerKind Kind, int Subscribers, double Rate, PhaseResult Latency, PhaseResult Throughput,
        double AllocatedPerDelivery, double CpuPercent, double CpuMicrosPerDelivery, double ClientCpuPercent, TimeSpan Setup,
        bool SseSubscribers = false)
    {
        public string Name => SseSubscribers ? $"{Kind.Name()} (SSE subscribers)" : Kind.Name();

        /// <summary>The warm-up, when it waited for the JIT to settle (<c>settleJit</c>).</summary>
        public JitSettledWarmUp.Result? WarmUp { get; init; }

        /// <summary>The servers' JIT compile time over the throughput phase's wall time, in % (the busiest server).</summary>
        public double JitPercent { get; init; }

        /// <summary>Frames written per socket write and flush in the throughput phase (broker only: its own counters), else null.</summary>
        public double? FramesPerFlush { get; init; }

        /// <summary>Which round of <c>--rounds</c> this was (1 when there is one).</summary>
        public int Round { get; init; } = 1;
    }

    public static async Task<ScenarioReport> RunAsync(BenchOptions options)
    {
        var report = new ScenarioReport("fan-out");
        foreach (var subscribers in options.Subscribers)
        {
            var results = new List<Measured>();
            // Rounds alternate the servers (broker, raw, …, broker, raw, …), so a slow minute of the
            // machine falls on both sides of a ratio, and each round's ratio is its own pair's.
            for (var round = 1; round <= options.Rounds; round++)
            foreach (var kind in options.Servers)
            {
                Console.Error.WriteLine($"fan-out: {kind.Name()} with {subscribers} subscribers{(options.Rounds > 1 ? $", round {round} of {options.Rounds}" : "")}…");
                await using var server = await ServerProcess.StartAsync(kind);
                var measured = await MeasureAsync(server.Kind, [server.WebSocketUri], [server], subscribers, options, report);
                if (measured is not null) results.Add(measured with { Round = round });
            }
            if (options.SseSubscribers && options.Servers.Contains(ServerKind.Broker))
            {
                // A fresh broker process, so neither run inherits the other's heap or JIT state.
                Console.Error.WriteLine($"fan-out: broker with {subscribers} SSE subscribers…");
                await using var server = await ServerProcess.StartAsync(ServerKind.Broker);
                var measured = await MeasureAsync(server.Kind, [server.WebSocketUri], [server], subscribers, options, report, sseSubscribers: true);
                if (measured is not null) results.Add(measured);
            }
            AddTable(report, options, subscribers, results);
        }
        return report;
    }

    /// <summary>
    /// The broker's failures fail the run; a baseline's are its own (SignalR closing healthy
    /// subscribers at 10k, say): a note, with the row marked INCOMPLETE, as in slow-consumer.
    /// </summary>
    private static void Fail(ScenarioReport report, ServerKind kind, string failure)
    {
        if (kind == ServerKind.Broker) report.Failures.Add(failure);
        else report.Notes.Add($"baseline failed (not counted against the broker): {failure}");
    }

    /// <summary>
    /// One server (or cluster) under the fan-out load; null when set-up failed (recorded in the report).
    /// With <paramref name="acks"/>, every publisher's ack goes into it and is checked at the end
    /// (offsets consecutive, one epoch); <paramref name="label"/> names the run in failures; <paramref name="phase"/>
    /// replaces <c>--seconds</c> as the length of the latency and throughput phases. With <paramref name="settleJit"/>
    /// the warm-up lasts until the servers' JIT has settled (<see cref="JitSettledWarmUp"/>, up to a minute) instead of 8 s.
    /// </summary>
    public static async Task<Measured?> MeasureAsync(ServerKind kind, IReadOnlyList<Uri> endpoints, IReadOnlyList<ServerProcess> servers,
        int subscribers, BenchOptions options, ScenarioReport report, bool perNode = false, AckLedger? acks = null, string? label = null,
        TimeSpan? phase = null, bool settleJit = false, bool sseSubscribers = false)
    {
        label ??= $"{kind.Name()}{(sseSubscribers ? " SSE" : "")} {subscribers}";
        var length = phase ?? options.Phase;
        var rate = options.RateFor(subscribers);
        var drain = TimeSpan.FromSeconds(options.Smoke ? 20 : 60);
        var setupStarted = DateTime.UtcNow;
        FanOutRun run;
        try
        {
            run = await FanOutRun.StartAsync(kind, endpoints, subscribers, options.Publishers, options.Padding, "bench", DistinctUsers,
                TimeSpan.FromSeconds(options.Smoke ? 30 : 300), acks: acks, sseSubscribers: sseSubscribers);
        }
        catch (Exception e)
        {
            Fail(report, kind, $"{label}: set-up failed: {e.GetBaseException().Message}");
            return null;
        }
        await using (run)
        {
            var setup = DateTime.UtcNow - setupStarted;
            // Warm-up: tiered JIT, pools and heaps settle; the first seconds otherwise dominate the p99.
            var warmUp = options.Smoke ? TimeSpan.FromSeconds(0.5) : TimeSpan.FromSeconds(8);
            JitSettledWarmUp.Result? settled = null;
            if (settleJit && !options.Smoke)
                settled = await JitSettledWarmUp.RunAsync(servers, slice => run.OpenLoopAsync(rate, slice, drain), warmUp, TimeSpan.FromSeconds(60));
            else
                await run.OpenLoopAsync(rate, warmUp, drain);
            var latency = await run.OpenLoopAsync(rate, length, drain, perNode);
            var before = await StatsAsync(servers);
            var flushesBefore = kind == ServerKind.Broker ? await FlushCountsAsync(servers) : default;
            var jitBefore = await JitSettledWarmUp.JitMsAsync(servers);
            var clientBefore = ClientCpuMs();
            var throughput = await run.SaturateAsync(Window, length, drain);
            var clientCpu = (ClientCpuMs() - clientBefore) / throughput.Elapsed.TotalMilliseconds * 100;
            var after = await StatsAsync(servers);
            double? framesPerFlush = null;
            if (kind == ServerKind.Broker)
            {
                var flushesAfter = await FlushCountsAsync(servers);
                var flushes = flushesAfter.Flushes - flushesBefore.Flushes;
                framesPerFlush = flushes > 0 ? (flushesAfter.Frames - flushesBefore.Frames) / flushes : null;
            }
            var jitPercent = (await JitSettledWarmUp.JitMsAsync(servers)).Zip(jitBefore, (a, b) => (a - b) / throughput.Elapsed.TotalMilliseconds * 100).DefaultIfEmpty(0).Max();
            foreach (var failure in run.Failures) Fail(report, kind, $"{label}: {failure}");
            if (run.Failed && kind == ServerKind.Broker) report.Failures.Add($"{label}: counted: {await FanOutDiagnosis.DescribeAsync(run, servers)}");
            if (acks is not null)
            {
                foreach (var problem in acks.Check(run.Room, run.Publishers.Sum(p => p.LastSent))) report.Failures.Add($"{label}: {problem}");
                // The room's own stream, apart from the publishers' order: every acked offset, once, in order, at each witness.
                if (await run.CheckWitnessOffsetsAsync(drain) && run.StreamProblems.Count == 0)
                    report.Notes.Add($"{label}: every acked offset ({acks.Count(run.Room):N0}) reached each BrokerClient witness once and in order");
                foreach (var problem in run.StreamProblems) report.Failures.Add($"{label}: {problem}");
            }
            var allocated = (after.Allocated - before.Allocated) / Math.Max(1.0, throughput.Deliveries);
            var cpu = (after.CpuMs - before.CpuMs) / throughput.Elapsed.TotalMilliseconds * 100;
            var cpuPerDelivery = (after.CpuMs - before.CpuMs) * 1000 / Math.Max(1.0, throughput.Deliveries);
            return new Measured(kind, subscribers, rate, latency, throughput, allocated, cpu, cpuPerDelivery, clientCpu, setup, sseSubscribers)
            {
                WarmUp = settled,
                JitPercent = jitPercent,
                FramesPerFlush = framesPerFlush,
            };
        }
    }

    /// <summary>The load generator's own CPU: when it nears all cores, the clients, not the server, set the pace.</summary>
    private static double ClientCpuMs()
    {
        using var self = System.Diagnostics.Process.GetCurrentProcess();
        return self.TotalProcessorTime.TotalMilliseconds;
    }

    /// <summary>
    /// The broker's frames out and socket flushes so far, summed over its nodes: how much the write
    /// loops batched (many frames per flush when sockets had backlogs, one when they kept up).
    /// </summary>
    private static async Task<(double Frames, double Flushes)> FlushCountsAsync(IReadOnlyList<ServerProcess> servers)
    {
        double frames = 0, flushes = 0;
        foreach (var server in servers)
        {
            // One scrape for both counters, so they are read at the same moment.
            var metrics = await server.MetricsAsync();
            frames += ServerProcess.Counter(metrics, "broker_frames_out_total");
            flushes += ServerProcess.Counter(metrics, "broker_socket_flushes_total");
        }
        return (frames, flushes);
    }

    private static async Task<(long Allocated, double CpuMs)> StatsAsync(IReadOnlyList<ServerProcess> servers)
    {
        long allocated = 0;
        double cpu = 0;
        foreach (var server in servers)
        {
            var stats = await server.StatsAsync();
            allocated += stats.AllocatedBytes;
            cpu += stats.CpuMs;
        }
        return (allocated, cpu);
    }

    private static void AddTable(ScenarioReport report, BenchOptions options, int subscribers, List<Measured> results)
    {
        var rate = options.RateFor(subscribers);
        var rounds = results.Select(r => r.Round).Distinct().Count();
        var table = new Table($"fan-out: 1 room, {subscribers} subscribers, {options.Publishers} publishers, latency at {rate:0} publishes/s open loop",
            "round", "server", "deliveries/s", "vs raw", "vs SignalR", "p50 ms", "p99 ms", "max ms", "pacing lag p99 ms", "server B/delivery",
            "server µs/delivery", "frames/flush", "server CPU %", "client CPU %", "checked");
        foreach (var r in results)
        {
            // Each row against the baselines of its own round.
            var raw = Reference(results, ServerKind.Raw, r.Round);
            var signalR = Reference(results, ServerKind.SignalR, r.Round);
            var rateValue = r.Throughput.DeliveriesPerSecond;
            table.Add($"{r.Round}", r.Name, Fmt.Rate(rateValue), Fmt.Ratio(rateValue, raw), Fmt.Ratio(rateValue, signalR),
                Fmt.Ms(r.Latency.Latency.GetValueAtPercentile(50)), Fmt.Ms(r.Latency.Latency.GetValueAtPercentile(99)),
                Fmt.Ms(r.Latency.Latency.GetMaxValue()), Fmt.Ms(r.Latency.PacingLag.GetValueAtPercentile(99)),
                $"{r.AllocatedPerDelivery:0}", $"{r.CpuMicrosPerDelivery:0.00}", r.FramesPerFlush is { } f ? $"{f:0.0}" : "n/a",
                $"{r.CpuPercent:0}", $"{r.ClientCpuPercent:0}",
                r.Latency.Complete && r.Throughput.Complete ? $"ok ({r.Latency.Deliveries + r.Throughput.Deliveries:N0})" : "INCOMPLETE");
        }
        report.Tables.Add(table);

        var brokers = results.Where(r => r.Kind == ServerKind.Broker && !r.SseSubscribers).ToList();
        if (brokers.Count == 0) return;
        // Several rounds: the median of the rounds' own ratios (one noisy pair does not decide).
        var rawRatios = brokers.Select(b => Ratio(b, Reference(results, ServerKind.Raw, b.Round))).ToList();
        var vsRaw = Rounds.Median(rawRatios);
        var vsSignalR = Rounds.Median(brokers.Select(b => Ratio(b, Reference(results, ServerKind.SignalR, b.Round))));
        var median = rounds > 1 ? $" (median of {rounds} rounds)" : "";
        if (rounds > 1)
            report.Notes.Add($"fan-out {subscribers}: broker vs raw by round {string.Join(", ", rawRatios.Select(x => x is { } r ? Fmt.Ratio(r, 1) : "n/a"))}; " +
                             $"server µs/delivery broker {string.Join(", ", brokers.Select(b => $"{b.CpuMicrosPerDelivery:0.00}"))}, " +
                             $"raw {string.Join(", ", results.Where(r => r.Kind == ServerKind.Raw).Select(r => $"{r.CpuMicrosPerDelivery:0.00}"))}");
        if (vsRaw is { } toRaw)
        {
            report.Check($"fan-out {subscribers}: deliveries/s ≥ 0.7× raw Kestrel{median}", Fmt.Ratio(toRaw, 1), toRaw >= 0.7);
            // Issue #18's targets: at 10k at least raw Kestrel's rate, at 1k half as much again.
            if (subscribers == 10_000) report.Check($"fan-out 10000 (issue #18): deliveries/s ≥ 1.0× raw Kestrel{median}", Fmt.Ratio(toRaw, 1), toRaw >= 1.0);
            if (subscribers == 1000) report.Check($"fan-out 1000 (issue #18): deliveries/s ≥ 1.5× raw Kestrel{median}", Fmt.Ratio(toRaw, 1), toRaw >= 1.5);
        }
        if (vsSignalR is { } toSignalR)
        {
            report.Check($"fan-out {subscribers}: deliveries/s ≥ 1.2× SignalR{median}", Fmt.Ratio(toSignalR, 1), toSignalR >= 1.2);
            if (subscribers == 10_000) report.Check($"fan-out 10000 (issue #18): deliveries/s ≥ 2× SignalR{median}", Fmt.Ratio(toSignalR, 1), toSignalR >= 2);
        }
        var broker = brokers[0];
        var allocated = brokers.Max(b => b.AllocatedPerDelivery);
        report.Check($"fan-out {subscribers}: hot-path allocation ≤ 64 B/delivery", $"{allocated:0} B", allocated <= 64);
        if (subscribers == 1000 && Math.Abs(rate - 100) < 0.5)
        {
            var p99 = broker.Latency.Latency.GetValueAtPercentile(99) / 1000.0;
            report.Check("fan-out 1000 at 100 publishes/s: p99 ≤ 5 ms", $"{p99:0.00} ms", p99 <= 5);
        }
    }

    /// <summary>The deliveries/s of <paramref name="kind"/> in <paramref name="round"/>, or 0 when it did not run.</summary>
    private static double Reference(List<Measured> results, ServerKind kind, int round) =>
        results.FirstOrDefault(r => r.Kind == kind && r.Round == round)?.Throughput.DeliveriesPerSecond ?? 0;

    private static double? Ratio(Measured broker, double reference) =>
        reference > 0 ? broker.Throughput.DeliveriesPerSecond / reference : null;
}
