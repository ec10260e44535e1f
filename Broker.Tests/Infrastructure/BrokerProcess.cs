using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Broker.Tests.JsClient;

namespace Broker.Tests.Infrastructure;

/// <summary>
/// One broker node as an operating-system process: the built standalone host (<c>dotnet
/// Broker.Host.dll</c>, the same binary an operator runs) in the Development environment, keyed
/// with <see cref="TestTokens.SigningKey"/>. Its HTTP and Akka ports are fixed when it is made, so
/// a node killed and started again comes back at the same address, as a restarted pod or service
/// would. <see cref="Kill"/> is SIGKILL (nothing runs: no shutdown, no cluster leave, sockets reset
/// by the kernel); <see cref="StopAsync"/> is SIGTERM (graceful). What the process prints goes to
/// <see cref="LogFile"/>, one timestamped line each, every start of the node appended.
/// Tests that do not need a real crash use <see cref="BrokerTestHost"/> in-process.
/// </summary>
public sealed class BrokerProcess : IAsyncDisposable
{
    /// <summary>Bounds a start until <c>/health/ready</c> answers 200 (three nodes starting at once on two cores).</summary>
    public static readonly TimeSpan StartDeadline = TimeSpan.FromSeconds(60);

    /// <summary>Bounds a graceful stop (the host's own shutdown phases take up to ~15 s with open sockets).</summary>
    public static readonly TimeSpan StopDeadline = TimeSpan.FromSeconds(40);

#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif
    private const int SigTerm = 15, SigKill = 9;

    private static readonly Lazy<string> Located = new(LocateHostAssembly);
    private static readonly Lock LiveLock = new();
    private static readonly HashSet<Process> Live = [];

    private readonly IReadOnlyDictionary<string, string> _settings;
    private readonly Lock _logLock = new();
    private readonly StreamWriter _log;
    private Process? _process;

    // A test run that ends without disposing (a crash, Ctrl+C in the runner) must not leave nodes behind.
    static BrokerProcess() => AppDomain.CurrentDomain.ProcessExit += (_, _) =>
    {
        Process[] live;
        lock (LiveLock) live = [.. Live];
        foreach (var process in live)
        {
            try { process.Kill(entireProcessTree: true); }
            catch (InvalidOperationException) { /* gone already */ }
        }
    };

    /// <param name="name">The node's name in logs and messages (<c>node-1</c>).</param>
    /// <param name="settings">Configuration keys given as <c>--key=value</c> (<c>Broker:Cluster:SeedNodes</c>, …), over the defaults here.</param>
    /// <param name="logFile">Where the process's stdout and stderr go (appended, the folder created).</param>
    public BrokerProcess(string name, int httpPort, int akkaPort, IReadOnlyDictionary<string, string> settings, string logFile)
    {
        Name = name;
        HttpPort = httpPort;
        AkkaPort = akkaPort;
        _settings = settings;
        LogFile = logFile;
        BaseUri = new Uri($"http://127.0.0.1:{httpPort}/");
        Http = new HttpClient { BaseAddress = BaseUri, Timeout = TestClient.DefaultTimeout };
        Directory.CreateDirectory(Path.GetDirectoryName(logFile)!);
        _log = new StreamWriter(new FileStream(logFile, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
    }

    /// <summary>Akka.Management's port when the node forms its cluster by bootstrap, else 0.</summary>
    public int BootstrapPort { get; init; }

    /// <summary>
    /// Settings worked out at each start, over those given when the node was made (the seed order
    /// of <see cref="BrokerProcessCluster"/>, which depends on which peers are running then).
    /// </summary>
    public Func<IReadOnlyDictionary<string, string>>? SettingsAtStart { get; init; }

    /// <summary>The built <c>Broker.Host.dll</c> the nodes run (see <see cref="LocateHostAssembly"/>).</summary>
    public static string HostAssembly => Located.Value;

    public string Name { get; }
    public int HttpPort { get; }
    public int AkkaPort { get; }

    /// <summary><c>http://127.0.0.1:port/</c>, whether the node is up or not.</summary>
    public Uri BaseUri { get; }

    /// <summary>An HTTP client aimed at the node, with a timeout.</summary>
    public HttpClient Http { get; }

    public string LogFile { get; }

    /// <summary>Whether the process is running (between a start and a kill, stop or crash).</summary>
    public bool IsRunning => _process is { HasExited: false };

    /// <summary>How many times the node was started.</summary>
    public int Starts { get; private set; }

    public override string ToString() => $"{Name} (http {HttpPort}, akka {AkkaPort})";

    /// <summary><c>ws://127.0.0.1:port/ws/{route}</c>.</summary>
    public Uri WebSocketUri(string route = "chat") => new($"ws://127.0.0.1:{HttpPort}/ws/{route}");

    /// <summary>
    /// Starts the process and waits until <c>/health/ready</c> answers 200 (or, with
    /// <paramref name="untilReady"/> false, only until <c>/health/live</c> does: a node that forms its
    /// cluster by bootstrap is not ready until enough of the others are up); fails early, with the
    /// log's tail, if it exits. <paramref name="readinessUrl"/> probes another URL instead (the
    /// management listener, when <c>Broker:Management:Urls</c> moves <c>/health</c> there).
    /// </summary>
    public async Task StartAsync(bool untilReady = true, string? readinessUrl = null)
    {
        if (IsRunning) throw new InvalidOperationException($"{this} is running already");
        var hostAssembly = HostAssembly;
        var info = new ProcessStartInfo(DotnetHost())
        {
            // Anything a node writes relative to its working directory stays in its log folder.
            WorkingDirectory = Path.GetDirectoryName(LogFile)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true, // never the runner's console
            UseShellExecute = false,
        };
        info.ArgumentList.Add(hostAssembly);
        // The host's appsettings*.json are read from its own folder.
        info.ArgumentList.Add("--contentRoot");
        info.ArgumentList.Add(Path.GetDirectoryName(hostAssembly)!);
        info.ArgumentList.Add("--urls");
        info.ArgumentList.Add($"http://127.0.0.1:{HttpPort}");
        foreach (var (key, value) in Settings()) info.ArgumentList.Add($"--{key}={value}");
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Development";
        info.Environment.Remove("DOTNET_ENVIRONMENT");
        info.Environment.Remove("ASPNETCORE_URLS");
        info.Environment["NO_COLOR"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";

        var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => WriteLog(e.Data);
        process.ErrorDataReceived += (_, e) => WriteLog(e.Data is null ? null : "stderr: " + e.Data);
        Starts++;
        WriteLog($"=== {Name} start #{Starts}: dotnet {string.Join(' ', info.ArgumentList).ReplaceLineEndings("\\n")}");
        process.Start();
        lock (LiveLock) Live.Add(process);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        WriteLog($"=== {Name} pid {process.Id}");
        await WaitUntilReadyAsync(process, readinessUrl ?? (untilReady ? "health/ready" : "health/live"));
    }

    /// <summary>
    /// SIGKILL: the node dies at once, as a crash or an OOM kill does; its peers find out through
    /// their failure detectors. Returns once the process is gone.
    /// </summary>
    public void Kill()
    {
        if (_process is not { } process) return;
        WriteLog($"=== {Name} SIGKILL");
        // The signal first, straight away: Process.Kill walks /proc for the process tree before it
        // signals anyone, which lets a busy node answer a while longer than a crash would.
        if (!OperatingSystem.IsWindows() && !process.HasExited) Posix.kill(process.Id, SigKill);
        try { process.Kill(entireProcessTree: true); }
        catch (InvalidOperationException) { /* exited already */ }
        if (!process.WaitForExit(TimeSpan.FromSeconds(20)))
            throw new TimeoutException($"{this} (pid {process.Id}) was still running 20 s after SIGKILL");
        process.WaitForExit(); // and its output drained into the log
        Forget(process);
    }

    /// <summary>SIGTERM: the host's graceful shutdown (sockets closed 1001, the node leaves the cluster and hands off); returns once it exited.</summary>
    public async Task StopAsync()
    {
        if (_process is not { } process) return;
        if (!process.HasExited)
        {
            WriteLog($"=== {Name} SIGTERM");
            if (OperatingSystem.IsWindows()) process.Kill(entireProcessTree: true); // no SIGTERM there; these tests skip on Windows anyway
            else if (Posix.kill(process.Id, SigTerm) != 0 && !process.HasExited)
                throw new InvalidOperationException($"kill(SIGTERM) of {this} failed: errno {Marshal.GetLastPInvokeError()}");
            using var deadline = new CancellationTokenSource(StopDeadline);
            try
            {
                await process.WaitForExitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                Kill();
                throw new TimeoutException($"{this} did not exit within {StopDeadline} of SIGTERM (killed); see {LogFile}");
            }
        }
        Forget(process);
    }

    /// <summary>The Prometheus text of <c>/metrics</c>.</summary>
    public Task<string> MetricsAsync() => Http.GetStringAsync("metrics");

    /// <summary>
    /// The sum of every series of <paramref name="name"/> whose labels contain
    /// <paramref name="labelFilter"/> (e.g. <c>status="up"</c>) in this node's <c>/metrics</c>; 0 when it has none.
    /// </summary>
    public async Task<double> MetricAsync(string name, string labelFilter = "")
    {
        var text = await MetricsAsync();
        double sum = 0;
        foreach (var line in text.Split('\n'))
        {
            if (!line.StartsWith(name, StringComparison.Ordinal)) continue;
            var rest = line.AsSpan(name.Length);
            if (rest.Length == 0 || (rest[0] != '{' && rest[0] != ' ')) continue; // another metric with this prefix
            if (labelFilter.Length > 0 && !line.Contains(labelFilter, StringComparison.Ordinal)) continue;
            // "name{labels} value [timestamp]" or "name value [timestamp]"
            var labelsEnd = line.LastIndexOf('}');
            var afterName = labelsEnd >= 0 ? line[(labelsEnd + 1)..] : line[name.Length..];
            var value = afterName.Trim().Split(' ')[0];
            if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed)) sum += parsed;
        }
        return sum;
    }

    /// <summary>The last <paramref name="lines"/> lines of <see cref="LogFile"/>, for a failure message.</summary>
    public string LogTail(int lines = 40)
    {
        try
        {
            using var stream = new FileStream(LogFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            var all = new StreamReader(stream).ReadToEnd().Split('\n');
            return string.Join('\n', all[Math.Max(0, all.Length - lines)..]);
        }
        catch (IOException e) { return $"(log not readable: {e.Message})"; }
    }

    /// <summary>Kills the node if it still runs (a test must not leave it behind) and closes its log.</summary>
    public ValueTask DisposeAsync()
    {
        try { Kill(); }
        finally
        {
            Http.Dispose();
            lock (_logLock) _log.Dispose();
        }
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// <paramref name="count"/> different TCP ports free on loopback now, below the kernel's
    /// ephemeral range where it has room for them: a node restarted on its ports must find them
    /// free, and a port the kernel may hand to any outgoing connection meanwhile might not be.
    /// </summary>
    public static int[] FreePorts(int count)
    {
        var listeners = new List<TcpListener>(count);
        try
        {
            var (low, high) = PortsOutsideEphemeralRange();
            for (var attempt = 0; listeners.Count < count && attempt < 200 && high > low; attempt++)
            {
                var listener = new TcpListener(IPAddress.Loopback, Random.Shared.Next(low, high));
                try
                {
                    listener.Start();
                    listeners.Add(listener);
                }
                catch (SocketException) { /* taken: another */ }
            }
            while (listeners.Count < count) // no such range here: any free port
            {
                var listener = new TcpListener(IPAddress.Loopback, 0);
                listener.Start();
                listeners.Add(listener);
            }
            return listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        }
        finally
        {
            foreach (var listener in listeners) listener.Stop();
        }
    }

    /// <summary>Ports from 20000 up to the start of the ephemeral range (Linux: <c>ip_local_port_range</c>, usually 32768); an empty range elsewhere.</summary>
    private static (int Low, int High) PortsOutsideEphemeralRange()
    {
        const int low = 20_000;
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            return int.TryParse(range[0], CultureInfo.InvariantCulture, out var ephemeral) && ephemeral > low + 1_000 ? (low, ephemeral) : (0, 0);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return (0, 0); }
    }

    private IEnumerable<KeyValuePair<string, string>> Settings()
    {
        var settings = new Dictionary<string, string>
        {
            ["Broker:Jwt:SigningKey"] = TestTokens.SigningKey,
            ["Broker:Cluster:Hostname"] = "127.0.0.1",
            ["Broker:Cluster:Port"] = AkkaPort.ToString(CultureInfo.InvariantCulture),
            // One line per entry, so the log reads as a timeline.
            ["Logging:Console:FormatterName"] = "simple",
            ["Logging:Console:FormatterOptions:SingleLine"] = "true",
        };
        foreach (var (key, value) in _settings) settings[key] = value;
        if (SettingsAtStart?.Invoke() is { } atStart)
            foreach (var (key, value) in atStart) settings[key] = value;
        return settings;
    }

    private async Task WaitUntilReadyAsync(Process process, string probe)
    {
        var deadline = DateTime.UtcNow + StartDeadline;
        HttpStatusCode? last = null;
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                process.WaitForExit(); // drains the output into the log
                Forget(process);
                throw new InvalidOperationException($"{this} exited with {process.ExitCode} before it was ready; {LogFile}:\n{LogTail()}");
            }
            try
            {
                using var response = await Http.GetAsync(probe);
                if (response.StatusCode == HttpStatusCode.OK) return;
                last = response.StatusCode;
            }
            catch (HttpRequestException) { /* not listening yet */ }
            catch (TaskCanceledException) { /* a request that outlived the client's timeout: the node is busy starting */ }
            await Task.Delay(100);
        }
        Kill();
        throw new TimeoutException($"{this}: /{probe} was not 200 within {StartDeadline} (last: {last?.ToString() ?? "no answer"}); {LogFile}:\n{LogTail()}");
    }

    private void Forget(Process process)
    {
        lock (LiveLock) Live.Remove(process);
        if (ReferenceEquals(_process, process)) _process = null;
        WriteLog($"=== {Name} exited ({(process.HasExited ? process.ExitCode.ToString(CultureInfo.InvariantCulture) : "?")})");
        process.Dispose();
    }

    private void WriteLog(string? line)
    {
        if (line is null) return;
        lock (_logLock)
        {
            try { _log.WriteLine($"{DateTime.Now:HH:mm:ss.fff} {line}"); }
            catch (ObjectDisposedException) { /* output drained after dispose */ }
        }
    }

    /// <summary>The dotnet host running these tests (<c>DOTNET_HOST_PATH</c> under <c>dotnet test</c>), else <c>dotnet</c> on PATH.</summary>
    private static string DotnetHost()
    {
        if (Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet") return self;
        return Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
    }

    /// <summary>
    /// The standalone host this test assembly was built with: beside the tests when it was copied
    /// there, else <c>Broker.Host/bin/&lt;configuration&gt;/&lt;tfm&gt;/</c> of this repository
    /// (<c>dotnet build Broker.sln</c>, or <c>dotnet test Broker.Tests</c>, whose project builds
    /// Broker.Host first without referencing it).
    /// </summary>
    private static string LocateHostAssembly()
    {
        var beside = Path.Combine(AppContext.BaseDirectory, "Broker.Host.dll");
        if (File.Exists(beside) && File.Exists(Path.ChangeExtension(beside, ".runtimeconfig.json"))) return beside;
        var framework = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Name; // net10.0
        var built = Path.Combine(JsNodeProcess.RepositoryRoot, "Broker.Host", "bin", Configuration, framework, "Broker.Host.dll");
        if (File.Exists(built)) return built;
        throw new FileNotFoundException($"Broker.Host is not built: no {built}. Run `dotnet build Broker.sln -c {Configuration}` first.", built);
    }

    private static class Posix
    {
        [DllImport("libc", SetLastError = true)]
        internal static extern int kill(int pid, int signal);
    }
}

/// <summary>
/// Broker nodes as processes on loopback (<see cref="BrokerProcess"/>), each on ports fixed for the
/// whole test and all listing every node as a seed, in the same order (PROTOCOL §9.6): nodes
/// started in any order form one cluster, and a node killed and started again rejoins it. Failure
/// detection and downing are tuned to seconds, as <see cref="BrokerTestHost.StartClusterNodeAsync"/>
/// does in-process. Each node logs to <c>node-N.log</c> in <see cref="LogDirectory"/>, under the
/// test output folder, which is kept after the test.
/// </summary>
public sealed class BrokerProcessCluster : IAsyncDisposable
{
    /// <summary>How long a cluster may take to see every node Up (the first seed alone waits seed-node-timeout before it forms one).</summary>
    public static readonly TimeSpan FormDeadline = TimeSpan.FromSeconds(60);

    private BrokerProcessCluster(BrokerProcess[] nodes, string logDirectory)
    {
        Nodes = nodes;
        LogDirectory = logDirectory;
    }

    public IReadOnlyList<BrokerProcess> Nodes { get; }

    /// <summary>The folder of every node's log.</summary>
    public string LogDirectory { get; }

    /// <summary>The nodes running now.</summary>
    public IEnumerable<BrokerProcess> Running => Nodes.Where(n => n.IsRunning);

    /// <summary>Starts <paramref name="count"/> nodes with <paramref name="settings"/> (on top of the cluster's own) and waits until every one sees all of them Up.</summary>
    /// <param name="name">Names the log folder (the test's name).</param>
    public static async Task<BrokerProcessCluster> StartAsync(string name, int count, IReadOnlyDictionary<string, string> settings)
    {
        var ports = BrokerProcess.FreePorts(2 * count);
        var logDirectory = Path.Combine(AppContext.BaseDirectory, "node-logs", $"{DateTime.Now:yyyyMMdd-HHmmss}-{name}-{Guid.NewGuid().ToString("N")[..6]}");
        var common = new Dictionary<string, string>
        {
            // Detect and down a crashed node in seconds, not the production defaults; and form the
            // cluster sooner: the first seed waits seed-node-timeout for the others before it forms
            // one alone, and the others ask again at that interval.
            ["Broker:Akka:Hocon"] = """
                akka.cluster.split-brain-resolver.stable-after = 2s
                akka.cluster.failure-detector.acceptable-heartbeat-pause = 2s
                akka.cluster.seed-node-timeout = 2s
                """,
            // Cluster membership and sharding in the log: what to read when a node misbehaves.
            ["Logging:LogLevel:Akka"] = "Information",
        };
        foreach (var (key, value) in settings) common[key] = value;
        var nodes = new BrokerProcess[count];
        for (var i = 0; i < count; i++)
        {
            var self = i;
            nodes[i] = new BrokerProcess($"node-{i + 1}", ports[i], ports[count + i], common, Path.Combine(logDirectory, $"node-{i + 1}.log"))
            {
                SettingsAtStart = () => new Dictionary<string, string> { ["Broker:Cluster:SeedNodes"] = SeedNodesFor(nodes, self) },
            };
        }
        var cluster = new BrokerProcessCluster(nodes, logDirectory);
        try
        {
            await cluster.StartAllAsync();
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// The seed list node <paramref name="self"/> starts with. Akka lets the first seed join itself
    /// once <c>seed-node-timeout</c> passes without an answer, so a node started while a peer runs
    /// (a restart) lists the running peers first and itself last: it can only join them, never form
    /// a second cluster because their <c>InitJoinAck</c> came a moment late. With no peer running
    /// (the first start, or after every node was stopped) the order is the fixed one, whose first
    /// seed may form the cluster alone.
    /// </summary>
    private static string SeedNodesFor(BrokerProcess[] nodes, int self)
    {
        var ordered = nodes.Any(n => n != nodes[self] && n.IsRunning)
            ? nodes.Where(n => n != nodes[self]).OrderByDescending(n => n.IsRunning).Append(nodes[self])
            : nodes;
        return string.Join(",", ordered.Select(n => $"akka.tcp://broker@127.0.0.1:{n.AkkaPort}"));
    }

    /// <summary>
    /// <paramref name="count"/> nodes that form their cluster by Cluster Bootstrap with <c>config</c>
    /// discovery (PROTOCOL §9.6): no seed list, each node's bootstrap port in
    /// <c>Broker:Cluster:Bootstrap:Endpoints</c>. Not started: the test picks the order.
    /// </summary>
    public static BrokerProcessCluster CreateBootstrapped(string name, int count, IReadOnlyDictionary<string, string> settings)
    {
        var ports = BrokerProcess.FreePorts(3 * count);
        var logDirectory = Path.Combine(AppContext.BaseDirectory, "node-logs", $"{DateTime.Now:yyyyMMdd-HHmmss}-{name}-{Guid.NewGuid().ToString("N")[..6]}");
        var endpoints = string.Join(",", Enumerable.Range(0, count).Select(i => $"127.0.0.1:{ports[2 * count + i]}"));
        var nodes = Enumerable.Range(0, count).Select(i =>
        {
            var node = new Dictionary<string, string>
            {
                ["Broker:Cluster:Discovery"] = "config",
                ["Broker:Cluster:Bootstrap:Endpoints"] = endpoints,
                ["Broker:Cluster:Bootstrap:Port"] = ports[2 * count + i].ToString(CultureInfo.InvariantCulture),
                // Detect and down a crashed node in seconds; and let bootstrap decide in about a
                // second instead of its production margins (5 s stable margin, 1 s probes).
                ["Broker:Akka:Hocon"] = """
                    akka.cluster.split-brain-resolver.stable-after = 2s
                    akka.cluster.failure-detector.acceptable-heartbeat-pause = 2s
                    akka.management.cluster.bootstrap.contact-point-discovery.stable-margin = 1s
                    akka.management.cluster.bootstrap.contact-point-discovery.interval = 500ms
                    akka.management.cluster.bootstrap.contact-point.probe-interval = 500ms
                    """,
                ["Logging:LogLevel:Akka"] = "Information",
                // A cluster cannot use the embedded store: the test's own settings pick one if needed.
                ["Broker:Persistence:Provider"] = "none",
            };
            foreach (var (key, value) in settings) node[key] = value;
            return new BrokerProcess($"node-{i + 1}", ports[i], ports[count + i], node, Path.Combine(logDirectory, $"node-{i + 1}.log"))
            {
                BootstrapPort = ports[2 * count + i],
            };
        }).ToArray();
        return new BrokerProcessCluster(nodes, logDirectory);
    }

    /// <summary>Starts every node that is not running, all at once, and waits until every node sees all of them Up.</summary>
    public async Task StartAllAsync()
    {
        await Task.WhenAll(Nodes.Where(n => !n.IsRunning).Select(n => n.StartAsync()));
        await WaitForMembersAsync(Nodes.Count);
    }

    /// <summary>SIGKILLs every node (the whole cluster crashes at once).</summary>
    public void KillAll()
    {
        foreach (var node in Nodes) node.Kill();
    }

    /// <summary>Waits until every running node sees exactly <paramref name="up"/> members Up and none unreachable.</summary>
    public Task WaitForMembersAsync(int up) => Eventually.TrueAsync(async () =>
    {
        foreach (var node in Running)
        {
            if (await node.MetricAsync("broker_cluster_members", "status=\"up\"") != up) return false;
            if (await node.MetricAsync("broker_cluster_unreachable") != 0) return false;
        }
        return true;
    }, FormDeadline, $"every running node sees {up} members Up and none unreachable (logs: {LogDirectory})");

    /// <summary>Room entities alive on each running node now (<c>broker_rooms_active</c>), by node.</summary>
    public async Task<Dictionary<BrokerProcess, double>> RoomsActiveAsync()
    {
        var active = new Dictionary<BrokerProcess, double>();
        foreach (var node in Running) active[node] = await node.MetricAsync("broker_rooms_active");
        return active;
    }

    /// <summary>
    /// The node hosting the one room of a test that made exactly one: once exactly one running node
    /// reports <c>broker_rooms_active</c> 1 and every other 0 (a room entity lives on one node at a
    /// time; during a hand-off both may briefly say otherwise).
    /// </summary>
    public async Task<BrokerProcess> HostOfOnlyRoomAsync(TimeSpan? within = null)
    {
        BrokerProcess? host = null;
        await Eventually.TrueAsync(async () =>
        {
            var active = await RoomsActiveAsync();
            var hosting = active.Where(a => a.Value == 1).Select(a => a.Key).ToArray();
            host = hosting.Length == 1 && active.Values.Sum() == 1 ? hosting[0] : null;
            return host is not null;
        }, within ?? TestClient.DefaultTimeout, $"exactly one node hosts a room (logs: {LogDirectory})");
        return host!;
    }

    /// <summary>Waits until no running node has a room entity alive (every room passivated or gone).</summary>
    public Task NoRoomActiveAsync(TimeSpan within) => Eventually.TrueAsync(
        async () => (await RoomsActiveAsync()).Values.All(v => v == 0), within, $"no node has a room active (logs: {LogDirectory})");

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes) await node.DisposeAsync();
    }
}
