using System.Diagnostics;
using Broker.Bench.Infra;
using Broker.Bench.Load;
using Broker.Bench.Report;
using Broker.Bench.Servers;

namespace Broker.Bench.Scenarios;

/// <summary>
/// idle: N authenticated connections that only answer heartbeats, per server, each server in its
/// own process. Memory per connection is the server's own (working set and GC heap after a full
/// GC, before and after the connections, divided by N); heartbeat CPU is the server's CPU time
/// over a few heartbeat intervals with nothing else happening, and per ping it is net of the same
/// server's CPU over an equal window after all connections closed (what a node spends with nobody
/// connected, such as the broker's cluster gossip and timers, is no cost of a ping: at a million
/// connections it would vanish in the per-ping figure; both figures are printed). Connections spread over several
/// loopback source addresses (one address has ~28k ephemeral ports).
/// </summary>
public static class IdleScenario
{
    public static async Task<ScenarioReport> RunAsync(BenchOptions options)
    {
        var report = new ScenarioReport("idle");
        var n = options.IdleConnections;
        // Each connection is a descriptor in both processes; where the hard limit cannot be raised
        // (no CAP_SYS_RESOURCE), stay under it rather than measure accept failures.
        var limit = (long)ResourceLimits.RaiseFileLimit();
        if (limit > 0 && n > limit - 1000)
        {
            report.Notes.Add($"idle: asked for {n:N0} connections, but RLIMIT_NOFILE is {limit:N0} here and cannot be raised; measured {limit - 1000:N0}.");
            n = (int)(limit - 1000);
        }
        var interval = options.Smoke ? TimeSpan.FromSeconds(1) : TimeSpan.FromSeconds(5);
        var window = interval * 3;
        var table = new Table($"idle: {n:N0} authenticated connections, heartbeat every {interval.TotalSeconds:0} s",
            "server", "connect/s", "RSS KiB/conn", "GC heap KiB/conn", "vs raw (RSS)", "CPU % unconnected", "heartbeat CPU %",
            "CPU µs per ping (gross)", "CPU µs per ping (net)", "vs raw (net/ping)", "alive after");
        double rawRss = 0, rawPing = 0;
        var rows = new List<(ServerKind Kind, double Rss, double NetPing, string[] Cells)>();
        foreach (var kind in options.Servers)
        {
            Console.Error.WriteLine($"idle: {kind.Name()} with {n} connections…");
            await using var server = await ServerProcess.StartAsync(kind, new Dictionary<string, string>
            {
                ["Broker:Heartbeat:Interval"] = interval.ToString("c"),
                ["Bench:Heartbeat"] = interval.ToString("c"),
            });
            var dialect = Dialect.For(kind);
            ClientSockets.NextRun(n);
            var before = await server.StatsAsync(collect: true);
            var clients = new LeanClient[n];
            var loops = new Task[n];
            using var stop = new CancellationTokenSource();
            var tokens = Enumerable.Range(0, Math.Min(n, 1000)).Select(i => BenchTokens.Create($"idle-{i}")).ToArray();
            var started = Stopwatch.GetTimestamp();
            try
            {
                using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(options.Smoke ? 30 : 600));
                await Parallel.ForEachAsync(Enumerable.Range(0, n), new ParallelOptions { MaxDegreeOfParallelism = 32, CancellationToken = deadline.Token },
                    async (i, ct) =>
                    {
                        clients[i] = await LeanClient.ConnectAsync(dialect, server.WebSocketUri, tokens[i % tokens.Length], i, ct);
                        loops[i] = clients[i].RunAsync(IgnoreRecords.Instance, stop.Token);
                    });
            }
            catch (Exception e)
            {
                report.Failures.Add($"{kind.Name()}: connecting {n} failed after {clients.Count(c => c is not null)}: {e.GetBaseException().Message}");
                await CloseAllAsync(clients);
                continue;
            }
            var connectRate = n / Stopwatch.GetElapsedTime(started).TotalSeconds;
            await Task.Delay(TimeSpan.FromSeconds(1));
            var after = await server.StatsAsync(collect: true);

            // Heartbeat CPU: nothing but pings and pongs during the window.
            var cpuBefore = await server.StatsAsync();
            await Task.Delay(window);
            var cpuAfter = await server.StatsAsync();
            var cpuMs = cpuAfter.CpuMs - cpuBefore.CpuMs;
            var cpuPercent = cpuMs / window.TotalMilliseconds * 100;
            var pings = n * (window / interval);
            var alive = clients.Count(c => c.State == System.Net.WebSockets.WebSocketState.Open);
            if (alive != n) report.Failures.Add($"{kind.Name()}: {n - alive} of {n} idle connections died although they answered every ping");

            stop.Cancel();
            await CloseAllAsync(clients);

            // The node's own CPU with nobody connected, over a window as long as the heartbeat's, once
            // every connection is gone (JIT settled, the closes done), so it is the steady background.
            var idleMs = await UnconnectedCpuMsAsync(server, window);
            var netPerPing = Math.Max(0, cpuMs - idleMs) * 1000 / pings;
            var rss = (after.WorkingSet - before.WorkingSet) / (double)n;
            var heap = (after.GcHeap - before.GcHeap) / (double)n;
            if (kind == ServerKind.Raw)
            {
                rawRss = rss;
                rawPing = netPerPing;
            }
            rows.Add((kind, rss, netPerPing, [kind.Name(), $"{connectRate:0}", Fmt.KiB(rss), Fmt.KiB(heap), "",
                $"{idleMs / window.TotalMilliseconds * 100:0.0}", $"{cpuPercent:0.0}", $"{cpuMs * 1000 / pings:0.0}", $"{netPerPing:0.0}", "",
                $"{alive:N0}/{after.Connections:N0}"]));
            if (kind == ServerKind.Broker)
            {
                report.Check("idle: ≥ 50k connections per node", $"{alive:N0}" + (n < 50_000 ? " (fd limit)" : ""), alive >= 50_000);
                report.Check("idle: ≤ 20 KiB per connection (RSS)", $"{Fmt.KiB(rss)} KiB", rss <= 20 * 1024);
                report.Check("idle (issue #18): ≤ 12 KiB per connection (RSS)", $"{Fmt.KiB(rss)} KiB", rss <= 12 * 1024);
            }
        }
        foreach (var row in rows)
        {
            row.Cells[4] = rawRss > 0 ? Fmt.Ratio(row.Rss, rawRss) : "n/a";
            row.Cells[9] = rawPing > 0 ? Fmt.Ratio(row.NetPing, rawPing) : "n/a";
            table.Add(row.Cells);
            if (row.Kind == ServerKind.Broker && rawPing > 0)
                report.Check("idle (issue #18): heartbeat CPU per ping ≤ 1.2× raw", Fmt.Ratio(row.NetPing, rawPing) + " (net of unconnected CPU)",
                    row.NetPing <= 1.2 * rawPing);
        }
        report.Tables.Add(table);
        report.Notes.Add("idle: RSS and GC heap are the server process's own, after a forced full GC, minus the same before any connection.");
        report.Notes.Add("idle: CPU per ping (net) is the heartbeat window's CPU minus the same server's over an equal window after every connection closed ('CPU % unconnected'); gross is without that subtraction.");
        return report;
    }

    private static async Task<double> UnconnectedCpuMsAsync(ServerProcess server, TimeSpan window)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while ((await server.StatsAsync()).Connections > 0 && !deadline.IsCancellationRequested)
            await Task.Delay(TimeSpan.FromMilliseconds(200));
        await Task.Delay(TimeSpan.FromSeconds(2));
        var start = await server.StatsAsync();
        await Task.Delay(window);
        return (await server.StatsAsync()).CpuMs - start.CpuMs;
    }

    private static Task CloseAllAsync(LeanClient?[] clients) =>
        Parallel.ForEachAsync(clients.Where(c => c is not null), new ParallelOptions { MaxDegreeOfParallelism = 64 },
            async (client, _) => await client!.DisposeAsync());
}
