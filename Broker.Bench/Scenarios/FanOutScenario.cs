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
    }

    public static async Task<ScenarioReport> RunAsync(BenchOptions options)
    {
        var report = new ScenarioReport("fan-out");
        foreach (var subscribers in options.Subscribers)
        {
            var results = new List<Measured>();
            foreach (var kind in options.Servers)
            {
                Console.Error.WriteLine($"fan-out: {kind.Name()} with {subscribers} subscribers…");
                await using var server = await ServerProcess.StartAsync(kind);
                var measured = await MeasureAsync(server.Kind, [server.WebSocketUri], [server], subscribers, options, report);
                if (measured is not null) results.Add(measured);
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
            report.Failures.Add($"{label}: set-up failed: {e.GetBaseException().Message}");
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
            var jitBefore = await JitSettledWarmUp.JitMsAsync(servers);
            var clientBefore = ClientCpuMs();
            var throughput = await run.SaturateAsync(Window, length, drain);
            var clientCpu = (ClientCpuMs() - clientBefore) / throughput.Elapsed.TotalMilliseconds * 100;
            var after = await StatsAsync(servers);
            var jitPercent = (await JitSettledWarmUp.JitMsAsync(servers)).Zip(jitBefore, (a, b) => (a - b) / throughput.Elapsed.TotalMilliseconds * 100).DefaultIfEmpty(0).Max();
            foreach (var failure in run.Failures) report.Failures.Add($"{label}: {failure}");
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
            };
        }
    }

    /// <summary>The load generator's own CPU: when it nears all cores, the clients, not the server, set the pace.</summary>
    private static double ClientCpuMs()
    {
        using var self = System.Diagnostics.Process.GetCurrentProcess();
        return self.TotalProcessorTime.TotalMilliseconds;
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
        var table = new Table($"fan-out: 1 room, {subscribers} subscribers, {options.Publishers} publishers, latency at {rate:0} publishes/s open loop",
            "server", "deliveries/s", "vs raw", "vs SignalR", "p50 ms", "p99 ms", "max ms", "pacing lag p99 ms", "server B/delivery", "server µs/delivery", "server CPU %", "client CPU %", "checked");
        var raw = results.FirstOrDefault(r => r.Kind == ServerKind.Raw)?.Throughput.DeliveriesPerSecond ?? 0;
        var signalR = results.FirstOrDefault(r => r.Kind == ServerKind.SignalR)?.Throughput.DeliveriesPerSecond ?? 0;
        foreach (var r in results)
        {
            var rateValue = r.Throughput.DeliveriesPerSecond;
            table.Add(r.Name, Fmt.Rate(rateValue), Fmt.Ratio(rateValue, raw), Fmt.Ratio(rateValue, signalR),
                Fmt.Ms(r.Latency.Latency.GetValueAtPercentile(50)), Fmt.Ms(r.Latency.Latency.GetValueAtPercentile(99)),
                Fmt.Ms(r.Latency.Latency.GetMaxValue()), Fmt.Ms(r.Latency.PacingLag.GetValueAtPercentile(99)),
                $"{r.AllocatedPerDelivery:0}", $"{r.CpuMicrosPerDelivery:0.00}", $"{r.CpuPercent:0}", $"{r.ClientCpuPercent:0}",
                r.Latency.Complete && r.Throughput.Complete ? $"ok ({r.Latency.Deliveries + r.Throughput.Deliveries:N0})" : "INCOMPLETE");
        }
        report.Tables.Add(table);

        var broker = results.FirstOrDefault(r => r.Kind == ServerKind.Broker && !r.SseSubscribers);
        if (broker is null) return;
        var b = broker.Throughput.DeliveriesPerSecond;
        if (raw > 0) report.Check($"fan-out {subscribers}: deliveries/s ≥ 0.7× raw Kestrel", Fmt.Ratio(b, raw), b >= 0.7 * raw);
        if (signalR > 0) report.Check($"fan-out {subscribers}: deliveries/s ≥ 1.2× SignalR", Fmt.Ratio(b, signalR), b >= 1.2 * signalR);
        report.Check($"fan-out {subscribers}: hot-path allocation ≤ 64 B/delivery", $"{broker.AllocatedPerDelivery:0} B", broker.AllocatedPerDelivery <= 64);
        if (subscribers == 1000 && Math.Abs(rate - 100) < 0.5)
        {
            var p99 = broker.Latency.Latency.GetValueAtPercentile(99) / 1000.0;
            report.Check("fan-out 1000 at 100 publishes/s: p99 ≤ 5 ms", $"{p99:0.00} ms", p99 <= 5);
        }
    }
}
