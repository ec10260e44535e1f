using System.Net;
using System.Net.Sockets;
using Broker.Bench.Infra;
using Broker.Bench.Report;
using Broker.Bench.Servers;
using HdrHistogram;

namespace Broker.Bench.Scenarios;

/// <summary>
/// cluster: the fan-out load across 3 broker nodes (3 processes joined over Akka.Remote on
/// loopback; subscribers and publishers spread round-robin), against one node with the same load
/// in the same run. Remote hops per broadcast come from the nodes' own <c>/metrics</c>
/// (<c>broker_remote_hops_total{kind="message"}</c> over <c>broker_publishes_total{kind="room"}</c>).
/// </summary>
public static class ClusterScenario
{
    public static async Task<ScenarioReport> RunAsync(BenchOptions options)
    {
        var report = new ScenarioReport("cluster");
        var subscribers = options.Smoke ? 60 : options.Subscribers.Min();
        var table = new Table($"cluster: 1 room, {subscribers} subscribers and {options.Publishers} publishers spread over the nodes, latency at {options.RateFor(subscribers):0} publishes/s",
            "setup", "deliveries/s", "p50 ms", "p99 ms", "max ms", "p50 by node ms", "remote hops/broadcast", "checked");

        Console.Error.WriteLine("cluster: single-node reference…");
        FanOutScenario.Measured? single;
        await using (var node = await ServerProcess.StartAsync(ServerKind.Broker))
            single = await FanOutScenario.MeasureAsync(ServerKind.Broker, [node.WebSocketUri], [node], subscribers, options, report);
        if (single is not null)
            table.Add("1 node", Fmt.Rate(single.Throughput.DeliveriesPerSecond), Fmt.Ms(single.Latency.Latency.GetValueAtPercentile(50)),
                Fmt.Ms(single.Latency.Latency.GetValueAtPercentile(99)), Fmt.Ms(single.Latency.Latency.GetMaxValue()), "", "0",
                single.Latency.Complete && single.Throughput.Complete ? "ok" : "INCOMPLETE");

        Console.Error.WriteLine("cluster: 3 nodes…");
        var seedPort = FreePort();
        var seeds = $"akka.tcp://broker@127.0.0.1:{seedPort}";
        var nodes = new List<ServerProcess>();
        try
        {
            nodes.Add(await ServerProcess.StartAsync(ServerKind.Broker, Settings(seedPort, seeds)));
            nodes.AddRange(await Task.WhenAll(ServerProcess.StartAsync(ServerKind.Broker, Settings(0, seeds)),
                ServerProcess.StartAsync(ServerKind.Broker, Settings(0, seeds))));
            await WaitForMembersAsync(nodes, 3);

            var hopsBefore = await SumAsync(nodes, "broker_remote_hops_total", "kind=\"message\"");
            var publishesBefore = await SumAsync(nodes, "broker_publishes_total", "kind=\"room\"");
            var cluster = await FanOutScenario.MeasureAsync(ServerKind.Broker, nodes.Select(n => n.WebSocketUri).ToArray(), nodes,
                subscribers, options, report, perNode: true);
            var hops = await SumAsync(nodes, "broker_remote_hops_total", "kind=\"message\"") - hopsBefore;
            var publishes = await SumAsync(nodes, "broker_publishes_total", "kind=\"room\"") - publishesBefore;
            var perBroadcast = publishes > 0 ? hops / publishes : double.NaN;
            if (cluster is not null)
            {
                var byNode = string.Join(" / ", cluster.Latency.LatencyByNode.Select(h => Fmt.Ms(h.GetValueAtPercentile(50))));
                table.Add("3 nodes", Fmt.Rate(cluster.Throughput.DeliveriesPerSecond), Fmt.Ms(cluster.Latency.Latency.GetValueAtPercentile(50)),
                    Fmt.Ms(cluster.Latency.Latency.GetValueAtPercentile(99)), Fmt.Ms(cluster.Latency.Latency.GetMaxValue()), byNode,
                    $"{perBroadcast:0.00}", cluster.Latency.Complete && cluster.Throughput.Complete ? "ok" : "INCOMPLETE");
                report.Check("cluster: remote hops per broadcast ≤ nodes − 1", $"{perBroadcast:0.00}", perBroadcast <= 2.0001);
                if (single is not null)
                {
                    var added = (cluster.Latency.Latency.GetValueAtPercentile(50) - single.Latency.Latency.GetValueAtPercentile(50)) / 1000.0;
                    report.Check("cluster: cross-node adds ≤ 2 ms at p50", $"{added:+0.00;-0.00} ms", added <= 2);
                }
            }
        }
        catch (Exception e)
        {
            report.Failures.Add($"3 nodes: {e.GetBaseException().Message}");
        }
        finally
        {
            foreach (var node in nodes) await node.DisposeAsync();
        }
        report.Tables.Add(table);
        report.Notes.Add("cluster: the room lives on one node; subscribers on the other two get each broadcast through one remote hop to their node's hub.");
        return report;
    }

    private static Dictionary<string, string> Settings(int port, string seeds) => new()
    {
        ["Broker:Cluster:Port"] = port.ToString(),
        ["Broker:Cluster:SeedNodes"] = seeds,
    };

    private static async Task<double> SumAsync(IEnumerable<ServerProcess> nodes, string counter, string labels)
    {
        double sum = 0;
        foreach (var node in nodes) sum += await node.CounterAsync(counter, labels);
        return sum;
    }

    internal static async Task WaitForMembersAsync(IReadOnlyList<ServerProcess> nodes, int expected)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            var all = true;
            foreach (var node in nodes)
                if (await node.CounterAsync("broker_cluster_members", "status=\"up\"") < expected) all = false;
            if (all) return;
            await Task.Delay(250);
        }
        throw new TimeoutException($"the nodes did not see {expected} members up within 60 s");
    }

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
