using System.Diagnostics;
using System.Net.Http.Json;
using System.Reflection;
using Broker.Bench.Infra;

namespace Broker.Bench.Servers;

/// <summary>
/// A server under test in a child process (this same executable, <c>serve &lt;kind&gt;</c>): its
/// memory, CPU and allocations are its own, not the load generator's. Killed on dispose; it also
/// exits by itself when our end of its stdin closes.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartDeadline = TimeSpan.FromSeconds(60);

    private readonly Process _process;
    private readonly HttpClient _http;

    private ServerProcess(Process process, ServerKind kind, Uri baseUri)
    {
        _process = process;
        Kind = kind;
        BaseUri = baseUri;
        _http = new HttpClient { BaseAddress = baseUri, Timeout = TimeSpan.FromSeconds(60) };
    }

    public ServerKind Kind { get; }
    public Uri BaseUri { get; }
    public int Pid => _process.Id;

    /// <summary>The WebSocket endpoint of this server kind.</summary>
    public Uri WebSocketUri => Kind switch
    {
        ServerKind.Broker => new Uri($"ws://{BaseUri.Authority}/ws/chat"),
        ServerKind.Raw => new Uri($"ws://{BaseUri.Authority}/ws/raw"),
        _ => new Uri($"ws://{BaseUri.Authority}/hub"),
    };

    /// <summary>Starts a server with configuration overrides (<c>Broker:Heartbeat:Interval</c>, <c>Bench:Heartbeat</c>, …) and waits for it to listen.</summary>
    public static async Task<ServerProcess> StartAsync(ServerKind kind, IReadOnlyDictionary<string, string>? settings = null)
    {
        var info = new ProcessStartInfo
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = false,
            UseShellExecute = false,
        };
        var self = Environment.ProcessPath!;
        // taskset execs the server in its own place: the pid, and so the CPU measured, are the server's.
        var (fileName, prefix) = CpuPinning.Launcher(self);
        info.FileName = fileName;
        foreach (var argument in prefix) info.ArgumentList.Add(argument);
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
            info.ArgumentList.Add(Assembly.GetEntryAssembly()!.Location);
        info.ArgumentList.Add("serve");
        info.ArgumentList.Add(kind.Name());
        var all = new Dictionary<string, string>(kind == ServerKind.Broker ? BrokerSettings : new Dictionary<string, string>());
        foreach (var (key, value) in settings ?? new Dictionary<string, string>()) all[key] = value;
        foreach (var (key, value) in all)
            info.ArgumentList.Add($"--{key}={value}");
        info.Environment["DOTNET_gcServer"] = "1";

        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start the server process");
        using var deadline = new CancellationTokenSource(StartDeadline);
        try
        {
            while (true)
            {
                var line = await process.StandardOutput.ReadLineAsync(deadline.Token)
                           ?? throw new InvalidOperationException($"{kind.Name()} server exited before listening");
                if (!line.StartsWith("READY ", StringComparison.Ordinal)) continue;
                var server = new ServerProcess(process, kind, new Uri(line["READY ".Length..].Trim().TrimEnd('/') + "/"));
                // Keep draining its console so a chatty server never blocks on a full pipe.
                server._drained = Task.Run(async () =>
                {
                    try
                    {
                        while (await process.StandardOutput.ReadLineAsync() is { } l)
                        {
                            if (Verbose) Console.Error.WriteLine($"[{kind.Name()}] {l}");
                            server.Observe(l);
                        }
                    }
                    catch (Exception) { }
                });
                if (kind == ServerKind.Broker) await server.WaitReadyAsync();
                server._ready = true;
                return server;
            }
        }
        catch
        {
            try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            throw;
        }
    }

    private readonly List<string> _problems = new();
    private int _problemCount;

    /// <summary>The first warnings and errors the server logged (console lines at Warning and above), and how many there were.</summary>
    public (IReadOnlyList<string> Lines, int Count) LogProblems
    {
        get { lock (_problems) return (_problems.ToArray(), _problemCount); }
    }

    private volatile bool _ready;
    private Task _drained = Task.CompletedTask;

    private void Observe(string line)
    {
        // Readiness polls before the node has joined its cluster of one log an unhealthy check at error level: ours, not the server's.
        if (!_ready && line.Contains("HealthChecks.DefaultHealthCheckService", StringComparison.Ordinal)) return;
        // The simple console's single-line levels, and Akka's own stdout logger.
        if (!line.StartsWith("warn:", StringComparison.Ordinal) && !line.StartsWith("fail:", StringComparison.Ordinal)
            && !line.StartsWith("crit:", StringComparison.Ordinal) && !line.Contains("[WARNING]", StringComparison.Ordinal)
            && !line.Contains("[ERROR]", StringComparison.Ordinal)) return;
        lock (_problems)
        {
            _problemCount++;
            if (_problems.Count < 20) _problems.Add(line.Length > 600 ? line[..600] + "…" : line);
        }
    }

    /// <summary>Configuration every broker process gets (<c>--set</c>), under the scenario's own.</summary>
    public static Dictionary<string, string> BrokerSettings { get; set; } = new();

    /// <summary>Echo server console lines on stderr (<c>--verbose</c>).</summary>
    public static bool Verbose { get; set; }

    /// <summary>The server's own measurements; <paramref name="collect"/> forces a full GC first.</summary>
    public async Task<ServerStats> StatsAsync(bool collect = false) =>
        (await _http.GetFromJsonAsync($"bench/stats?gc={(collect ? "true" : "false")}", BenchJsonContext.Default.ServerStats))!;

    /// <summary>The Prometheus text of <c>/metrics</c> (broker only).</summary>
    public Task<string> MetricsAsync() => _http.GetStringAsync("metrics");

    /// <summary>Sum of every series of a Prometheus counter whose labels contain <paramref name="labelFilter"/>.</summary>
    public async Task<double> CounterAsync(string name, string labelFilter = "") => Counter(await MetricsAsync(), name, labelFilter);

    /// <summary>Sum of every series of counter <paramref name="name"/> in one <c>/metrics</c> text (several counters from one scrape).</summary>
    public static double Counter(string text, string name, string labelFilter = "")
    {
        double sum = 0;
        foreach (var line in text.Split('\n'))
        {
            if (!line.StartsWith(name, StringComparison.Ordinal)) continue;
            var rest = line.AsSpan(name.Length);
            if (rest.Length == 0 || (rest[0] != '{' && rest[0] != ' ')) continue;
            if (labelFilter.Length > 0 && !line.Contains(labelFilter, StringComparison.Ordinal)) continue;
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            // "name{labels} value [timestamp]"
            var labelsEnd = line.LastIndexOf('}');
            var after = labelsEnd >= 0 ? line[(labelsEnd + 1)..].Trim().Split(' ')[0] : parts[1];
            if (double.TryParse(after, System.Globalization.CultureInfo.InvariantCulture, out var value)) sum += value;
        }
        return sum;
    }

    private async Task WaitReadyAsync()
    {
        var deadline = DateTime.UtcNow + StartDeadline;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                using var response = await _http.GetAsync("health/ready");
                if (response.IsSuccessStatusCode) return;
            }
            catch (HttpRequestException) { }
            await Task.Delay(100);
        }
        throw new TimeoutException("the broker did not become ready");
    }

    /// <summary>SIGKILL (a crash: no shutdown, no cluster leave, sockets reset by the kernel).</summary>
    public void Kill()
    {
        try { _process.Kill(entireProcessTree: true); }
        catch (InvalidOperationException) { }
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        try
        {
            _process.StandardInput.Close(); // asks it to stop
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try { await _process.WaitForExitAsync(grace.Token); }
            catch (OperationCanceledException) { _process.Kill(entireProcessTree: true); }
        }
        catch (Exception e) when (e is InvalidOperationException or IOException) { } // already gone (killed)
        // The console's last lines (what LogProblems reports) arrive after the exit.
        try { await _drained.WaitAsync(TimeSpan.FromSeconds(2)); }
        catch (TimeoutException) { }
        _process.Dispose();
    }
}
