using System.Diagnostics;
using Broker.Bench.Infra;
using Broker.Bench.Load;
using Broker.Bench.Report;
using Broker.Bench.Servers;

namespace Broker.Bench.Scenarios;

/// <summary>
/// detection: K authenticated connections answer heartbeats, then each goes silent at a random
/// moment (stops answering, keeps reading so it sees the close); measured is the time from going
/// silent to the connection's end as the client sees it. The rule (PROTOCOL §5) promises a
/// silent peer is gone within two intervals. SignalR's equivalent is its client timeout (set to
/// two keep-alive intervals); the raw baseline applies the broker's rule.
/// </summary>
public static class DetectionScenario
{
    public static async Task<ScenarioReport> RunAsync(BenchOptions options)
    {
        var report = new ScenarioReport("detection");
        var k = options.Smoke ? 20 : 200;
        var interval = TimeSpan.FromSeconds(1);
        var table = new Table($"detection: {k} clients go silent at random moments, heartbeat interval {interval.TotalSeconds:0} s",
            "server", "p50 s", "p99 s", "max s", "min s", "terminated", "within 2 intervals");
        foreach (var kind in options.Servers)
        {
            Console.Error.WriteLine($"detection: {kind.Name()}…");
            await using var server = await ServerProcess.StartAsync(kind, new Dictionary<string, string>
            {
                ["Broker:Heartbeat:Interval"] = interval.ToString("c"),
                ["Bench:Heartbeat"] = interval.ToString("c"),
            });
            var dialect = Dialect.For(kind);
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var clients = new LeanClient[k];
            var loops = new Task[k];
            for (var i = 0; i < k; i++)
            {
                clients[i] = await LeanClient.ConnectAsync(dialect, server.WebSocketUri, BenchTokens.Create($"silent-{i}"), i, stop.Token);
                loops[i] = clients[i].RunAsync(IgnoreRecords.Instance, stop.Token);
            }
            await Task.Delay(interval * 2);

            // Go silent at uniformly spread moments over one interval (the phase against the server's tick is what varies).
            var silentAt = new long[k];
            var random = new Random(9);
            var order = Enumerable.Range(0, k).OrderBy(_ => random.Next()).ToArray();
            var spread = Stopwatch.GetTimestamp();
            for (var j = 0; j < k; j++)
            {
                var due = spread + (long)(Stopwatch.Frequency * interval.TotalSeconds * j / k);
                while (Stopwatch.GetTimestamp() < due) await Task.Delay(1);
                var i = order[j];
                clients[i].AnswerPings = false;
                silentAt[i] = Stopwatch.GetTimestamp();
            }
            try { await Task.WhenAll(loops).WaitAsync(interval * 6); }
            catch (TimeoutException) { }

            var seconds = new List<double>();
            for (var i = 0; i < k; i++)
                if (clients[i].ClosedAt != 0) seconds.Add((clients[i].ClosedAt - silentAt[i]) / (double)Stopwatch.Frequency);
            seconds.Sort();
            var terminated = seconds.Count;
            if (terminated < k) report.Failures.Add($"{kind.Name()}: {k - terminated} silent clients were never terminated");
            var within = seconds.Count(s => s <= 2 * interval.TotalSeconds);
            double Pct(double p) => seconds.Count == 0 ? double.NaN : seconds[Math.Min(seconds.Count - 1, (int)Math.Ceiling(p / 100 * seconds.Count) - 1)];
            table.Add(kind.Name(), $"{Pct(50):0.00}", $"{Pct(99):0.00}", $"{(seconds.Count > 0 ? seconds[^1] : double.NaN):0.00}",
                $"{(seconds.Count > 0 ? seconds[0] : double.NaN):0.00}", $"{terminated}/{k}", $"{within}/{k}");
            if (kind == ServerKind.Broker)
                report.Check("detection: a silent client is terminated within 2 heartbeat intervals (PROTOCOL §5)",
                    $"max {(seconds.Count > 0 ? seconds[^1] : double.NaN):0.00} s at {interval.TotalSeconds:0} s", terminated == k && within == k);
            stop.Cancel();
            await Parallel.ForEachAsync(clients, async (c, _) => await c.DisposeAsync());
        }
        report.Tables.Add(table);
        return report;
    }
}
