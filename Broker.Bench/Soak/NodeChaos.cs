using System.Diagnostics;
using Broker.Bench.Infra;
using Broker.Bench.Scenarios;
using Broker.Bench.Servers;

namespace Broker.Bench.Soak;

/// <summary>
/// The soak's cluster and its faults: N broker processes on loopback, each on fixed HTTP and Akka
/// ports and all listing the same seeds (PROTOCOL §9.6), so a node killed with SIGKILL can be
/// started again on the same ports and rejoin. One node at a time is down.
/// </summary>
public sealed class NodeChaos : IAsyncDisposable
{
    private readonly ServerProcess?[] _nodes;
    private readonly int[] _httpPorts;
    private readonly int[] _akkaPorts;
    private readonly Dictionary<string, string> _common;
    private readonly Stopwatch _clock;
    private readonly List<string> _timeline = new();

    private NodeChaos(int count, Dictionary<string, string> common, Stopwatch clock)
    {
        _nodes = new ServerProcess?[count];
        _httpPorts = Enumerable.Range(0, count).Select(_ => ClusterScenario.FreePort()).ToArray();
        _akkaPorts = Enumerable.Range(0, count).Select(_ => ClusterScenario.FreePort()).ToArray();
        _common = common;
        _clock = clock;
        Endpoints = _httpPorts.Select(p => new Uri($"ws://127.0.0.1:{p}/ws/chat")).ToArray();
    }

    /// <summary>Each node's WebSocket endpoint (fixed for the whole run, whether the node is up or not).</summary>
    public Uri[] Endpoints { get; }
    public int Kills { get; private set; }
    public int Restarts { get; private set; }
    public int RejoinFailures { get; private set; }
    public IReadOnlyList<string> Timeline => _timeline;

    /// <summary>Starts <paramref name="count"/> nodes (the first seed first, as Akka forms the cluster there) and waits until all see each other.</summary>
    public static async Task<NodeChaos> StartAsync(int count, Dictionary<string, string> settings, Stopwatch clock)
    {
        var chaos = new NodeChaos(count, settings, clock);
        try
        {
            chaos._nodes[0] = await ServerProcess.StartAsync(ServerKind.Broker, chaos.Settings(0));
            var rest = await Task.WhenAll(Enumerable.Range(1, count - 1).Select(i => ServerProcess.StartAsync(ServerKind.Broker, chaos.Settings(i))));
            for (var i = 1; i < count; i++) chaos._nodes[i] = rest[i - 1];
            await ClusterScenario.WaitForMembersAsync(chaos.Live(), count);
            chaos.Log($"{count} nodes up: " + string.Join(", ", Enumerable.Range(0, count).Select(i => $"node {i} http {chaos._httpPorts[i]} akka {chaos._akkaPorts[i]}")));
            return chaos;
        }
        catch
        {
            await chaos.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Kills one node every <paramref name="period"/> (round robin, the first kill after
    /// <paramref name="firstKill"/>), restarts it after <paramref name="downtime"/>. When
    /// <paramref name="stop"/> fires, a node that is down is started again before this returns.
    /// </summary>
    public async Task RunAsync(TimeSpan firstKill, TimeSpan period, TimeSpan downtime, CancellationToken stop)
    {
        var victim = 1; // not the first seed first: its restart (the §9.6 case) comes third
        var next = firstKill;
        while (!stop.IsCancellationRequested)
        {
            if (!await DelayUntil(next, stop)) break;
            var node = victim;
            victim = (victim + 1) % _nodes.Length;
            _nodes[node]!.Kill();
            await _nodes[node]!.DisposeAsync();
            _nodes[node] = null;
            Kills++;
            Log($"kill -9 node {node}");
            await DelayUntil(_clock.Elapsed + downtime, stop);
            await RestartAsync(node);
            next += period;
        }
    }

    private async Task RestartAsync(int node)
    {
        try
        {
            _nodes[node] = await ServerProcess.StartAsync(ServerKind.Broker, Settings(node));
            Restarts++;
            Log($"node {node} restarted and ready");
            await ClusterScenario.WaitForMembersAsync(Live(), _nodes.Length);
            Log($"node {node} rejoined: every node sees {_nodes.Length} members up");
        }
        catch (Exception e)
        {
            RejoinFailures++;
            Log($"node {node} did not come back: {e.GetBaseException().Message}");
        }
    }

    private List<ServerProcess> Live() => _nodes.Where(n => n is not null).Select(n => n!).ToList();

    private async Task<bool> DelayUntil(TimeSpan at, CancellationToken stop)
    {
        var wait = at - _clock.Elapsed;
        if (wait <= TimeSpan.Zero) return !stop.IsCancellationRequested;
        try { await Task.Delay(wait, stop); return true; }
        catch (OperationCanceledException) { return false; }
    }

    private Dictionary<string, string> Settings(int node)
    {
        var settings = new Dictionary<string, string>(_common)
        {
            ["urls"] = $"http://127.0.0.1:{_httpPorts[node]}",
            ["Broker:Cluster:Port"] = _akkaPorts[node].ToString(),
            ["Broker:Cluster:SeedNodes"] = string.Join(",", _akkaPorts.Select(p => $"akka.tcp://broker@127.0.0.1:{p}")),
        };
        return settings;
    }

    private void Log(string what)
    {
        var line = $"{_clock.Elapsed.TotalSeconds,6:0.0} s  {what}";
        lock (_timeline) _timeline.Add(line);
        Console.Error.WriteLine($"soak: {line}");
    }

    public async ValueTask DisposeAsync()
    {
        for (var i = 0; i < _nodes.Length; i++)
        {
            if (_nodes[i] is { } node) await node.DisposeAsync();
            _nodes[i] = null;
        }
    }
}
