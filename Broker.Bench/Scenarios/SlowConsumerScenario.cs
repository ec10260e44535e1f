using System.Diagnostics;
using Broker.Bench.Infra;
using Broker.Bench.Load;
using Broker.Bench.Report;
using Broker.Bench.Servers;
using HdrHistogram;

namespace Broker.Bench.Scenarios;

/// <summary>
/// slow consumer: fan-out at a fixed rate twice on the same connections, first with everyone
/// reading (reference), then with 1% of the subscribers no longer reading (their SO_RCVBUF is
/// small so the kernel stops absorbing quickly). Measured: the healthy subscribers' p99 against
/// the reference, the server's peak memory while the slow ones back up, and how long until the
/// server cuts them off (its connection count drops).
/// </summary>
public static class SlowConsumerScenario
{
    public static async Task<ScenarioReport> RunAsync(BenchOptions options)
    {
        var report = new ScenarioReport("slow-consumer");
        var subscribers = options.Smoke ? 100 : 1000;
        const int slowEvery = 100; // 1%
        var slowCount = subscribers / slowEvery;
        // The smoke run is short: a higher rate fills the 1,000-frame queue within its seconds.
        var rate = options.Smoke ? 400.0 : 100.0;
        var padding = 1024;
        var phase = options.Smoke ? TimeSpan.FromSeconds(2) : TimeSpan.FromSeconds(20);
        // Before the server's 1,000-frame queue fills, the kernel absorbs megabytes in the server's
        // autotuned send buffer (a small SO_RCVBUF on the reader does not stop that): at 100 KB/s
        // per slow reader the cut-off takes tens of seconds, so the degraded phase runs longer.
        var degradedPhase = options.Smoke ? phase : TimeSpan.FromSeconds(75);
        var table = new Table($"slow consumer: {subscribers} subscribers, {slowCount} stop reading, {rate:0} publishes/s of {padding + 60} B",
            "server", "p99 ms (all read)", "p99 ms (1% slow)", "p99 change", "RSS MiB (all read)", "peak RSS MiB (1% slow)", "cut off after s", "others checked");
        foreach (var kind in options.Servers)
        {
            Console.Error.WriteLine($"slow-consumer: {kind.Name()}…");
            await using var server = await ServerProcess.StartAsync(kind);
            FanOutRun run;
            try
            {
                run = await FanOutRun.StartAsync(kind, [server.WebSocketUri], subscribers, options.Publishers, padding, "slow",
                    FanOutScenario.DistinctUsers, TimeSpan.FromSeconds(120), slowReceiveBuffer: 4096, slowEvery: slowEvery);
            }
            catch (Exception e)
            {
                report.Failures.Add($"{kind.Name()}: set-up failed: {e.GetBaseException().Message}");
                continue;
            }
            await using (run)
            {
                var drain = TimeSpan.FromSeconds(30);
                await run.OpenLoopAsync(rate, TimeSpan.FromSeconds(options.Smoke ? 0.5 : 8), drain); // warm-up, as in fan-out
                var reference = await run.OpenLoopAsync(rate, phase, drain);
                var referenceRss = (await server.StatsAsync()).WorkingSet;
                var connected = (await server.StatsAsync()).Connections;

                var slow = run.Subscribers.Where(s => s.Id % slowEvery == slowEvery - 1).ToArray();
                foreach (var s in slow)
                {
                    s.Healthy = false;
                    s.Client!.Pause();
                }
                var paused = Stopwatch.GetTimestamp();
                double cutOff = double.NaN;
                long peakRss = 0;
                using var sampling = new CancellationTokenSource();
                var sampler = Task.Run(async () =>
                {
                    while (!sampling.IsCancellationRequested)
                    {
                        var stats = await server.StatsAsync();
                        peakRss = Math.Max(peakRss, stats.WorkingSet);
                        if (double.IsNaN(cutOff) && stats.Connections <= connected - slowCount)
                            cutOff = Stopwatch.GetElapsedTime(paused).TotalSeconds;
                        try { await Task.Delay(250, sampling.Token); } catch (OperationCanceledException) { }
                    }
                });
                var degraded = await run.OpenLoopAsync(rate, degradedPhase, drain);
                // Give the cut-off some more time if it has not happened yet (the run itself is over).
                var extra = Stopwatch.GetTimestamp();
                while (double.IsNaN(cutOff) && Stopwatch.GetElapsedTime(extra) < phase) await Task.Delay(250);
                sampling.Cancel();
                await sampler;

                var p99Ref = reference.Latency.GetValueAtPercentile(99);
                var p99Slow = degraded.Latency.GetValueAtPercentile(99);
                var change = p99Ref > 0 ? (p99Slow - p99Ref) / (double)p99Ref : 0;
                // A baseline that drops healthy clients under a slow consumer is a finding about
                // that baseline, not a defect of the run; only the broker's losses fail it.
                foreach (var failure in run.Failures.Take(3))
                {
                    if (kind == ServerKind.Broker) report.Failures.Add($"{kind.Name()}: {failure}");
                    else report.Notes.Add($"slow-consumer: {kind.Name()} failed the healthy subscribers: {failure}");
                }
                table.Add(kind.Name(), Fmt.Ms(p99Ref), Fmt.Ms(p99Slow), $"{change * 100:+0;-0}%",
                    $"{referenceRss / 1048576.0:0}", $"{peakRss / 1048576.0:0}",
                    double.IsNaN(cutOff) ? $"not within {(degradedPhase + phase).TotalSeconds:0}" : $"{cutOff:0.0}",
                    reference.Complete && degraded.Complete ? "ok" : "INCOMPLETE");
                if (kind == ServerKind.Broker)
                {
                    report.Check("slow consumer: others' p99 moves by at most 10%", $"{change * 100:+0;-0}%", change <= 0.10);
                    report.Check("slow consumer: the slow ones are cut off", double.IsNaN(cutOff) ? "no" : $"after {cutOff:0.0} s", !double.IsNaN(cutOff));
                }
            }
        }
        report.Tables.Add(table);
        report.Notes.Add("slow-consumer: 'cut off after' is from the moment the 1% stop reading until the server's connection count drops by as many; " +
                         "the kernel's socket buffers absorb frames first, then the server's per-connection queue (1,000 frames) fills.");
        return report;
    }
}
