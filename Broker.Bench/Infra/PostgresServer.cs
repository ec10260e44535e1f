using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Npgsql;

namespace Broker.Bench.Infra;

/// <summary>
/// A throwaway PostgreSQL for the durable scenario: <c>initdb</c> into a folder under /tmp,
/// <c>pg_ctl start</c> on a free port of 127.0.0.1 (trust auth, no other address, its Unix socket
/// inside that folder), stopped and deleted on dispose. As root every server program runs as the
/// <c>postgres</c> OS user (<c>runuser</c>), since PostgreSQL refuses root. Adapted from the tests'
/// fixture (Broker.Tests/Infrastructure/PostgresServer.cs), which the benchmark must not reference.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    /// <summary>The user the cluster is initialised with; trust auth, so no password.</summary>
    public const string User = "postgres";

    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(90);
    private static readonly Lazy<Installation> Located = new(Installation.Locate);
    private static readonly Lock LiveLock = new();
    private static readonly HashSet<PostgresServer> Live = [];

    // A run that ends without disposing (Ctrl+C, SIGTERM, an unhandled exception) must not leave a
    // postmaster behind: pg_ctl detaches it. Stopped synchronously, from the signal's handler (the
    // runtime's default handling of SIGTERM then goes on) and at process exit.
    private static readonly PosixSignalRegistration[] Signals = OperatingSystem.IsWindows() ? [] :
        [.. new[] { PosixSignal.SIGTERM, PosixSignal.SIGINT, PosixSignal.SIGHUP, PosixSignal.SIGQUIT }.Select(signal => PosixSignalRegistration.Create(signal, _ => StopAll()))];

    static PostgresServer() => AppDomain.CurrentDomain.ProcessExit += (_, _) => StopAll();

    private static void StopAll()
    {
        PostgresServer[] live;
        lock (LiveLock) live = [.. Live];
        foreach (var server in live) server.StopNow();
    }

    private readonly string _root;
    private bool _running;
    private bool _disposed;

    private PostgresServer(string root, int port, string version)
    {
        _root = root;
        Port = port;
        Version = version;
    }

    /// <summary>Why no server can be started here (no PostgreSQL programs, root without a postgres user…), or null when one can.</summary>
    public static string? Missing => Located.Value.Missing;

    public int Port { get; }

    /// <summary>The server's version, as <c>postgres --version</c> prints it.</summary>
    public string Version { get; }

    /// <summary>The server's own log (pg_ctl's <c>-l</c>).</summary>
    public string LogFile => Path.Combine(_root, "server.log");

    private string DataDirectory => Path.Combine(_root, "data");

    /// <summary>
    /// initdb and start. <paramref name="fsync"/> false: commits reach the OS but not the disk
    /// (survives a crash of the server, not of the machine); <c>synchronous_commit</c> stays on
    /// either way, so an acknowledged write has been flushed to the WAL as far as the setting allows.
    /// </summary>
    public static async Task<PostgresServer> StartAsync(bool fsync)
    {
        var installation = Located.Value;
        if (installation.Missing is { } missing) throw new InvalidOperationException($"no PostgreSQL server can be started: {missing}");
        // Under /tmp (world-traversable), whatever TMPDIR says: the postgres user must reach it.
        var root = Path.Combine(installation.RunAs is null ? Path.GetTempPath() : "/tmp", "broker-bench-pg-" + Guid.NewGuid().ToString("N")[..12]);
        var socketDirectory = Path.Combine(root, "run");
        Directory.CreateDirectory(socketDirectory);
        var version = (await RunAsync(installation, "postgres", "--version")).Output.Trim();
        var server = new PostgresServer(root, FreeLoopbackPort(), version);
        try
        {
            if (installation.RunAs is { } user)
            {
                var chown = await RunProgramAsync("chown", ["-R", $"{user}:", root]);
                if (chown.ExitCode != 0) throw new InvalidOperationException($"chown of {root} to {user} failed ({Ended(chown)}):\n{chown.Output}");
            }
            var initdb = await RunAsync(installation, "initdb", "-D", server.DataDirectory, "-U", User, "--auth=trust",
                "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions");
            if (initdb.ExitCode != 0) throw new InvalidOperationException($"initdb failed ({Ended(initdb)}):\n{initdb.Output}");

            // Appended as root to a file the postgres user owns: ownership and mode stay.
            await File.AppendAllTextAsync(Path.Combine(server.DataDirectory, "postgresql.conf"), $"""

                # Broker.Bench's PostgresServer: loopback TCP only (the port is pg_ctl's -o -p), the socket in
                # the server's own folder (not the system's /var/run/postgresql).
                listen_addresses = '127.0.0.1'
                unix_socket_directories = '{socketDirectory}'
                # Durable rooms ack after the commit: synchronous_commit off would ack writes a crash then loses.
                synchronous_commit = on
                # --pg-fsync: off (the default here) keeps commits in the OS's cache (they survive a crash of
                # the server, not of the machine), so the figures leave out the disk's flush latency.
                fsync = {(fsync ? "on" : "off")}
                full_page_writes = {(fsync ? "on" : "off")}

                """);

            lock (LiveLock) Live.Add(server);
            var start = await RunAsync(installation, "pg_ctl", "start", "-w", "-t", ((int)CommandTimeout.TotalSeconds).ToString(),
                "-D", server.DataDirectory, "-l", server.LogFile, "-o", $"-p {server.Port}");
            server._running = true; // even a failed start may have left a postmaster: stop it on dispose
            if (start.ExitCode != 0)
                throw new InvalidOperationException($"pg_ctl start on port {server.Port} failed ({Ended(start)}):\n{start.Output}\n{server.LogTail(20)}");
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Npgsql connection string of <paramref name="database"/> on this server.</summary>
    public string ConnectionStringFor(string database) =>
        new NpgsqlConnectionStringBuilder { Host = "127.0.0.1", Port = Port, Username = User, Database = database }.ConnectionString;

    /// <summary>Creates an empty database (a plain identifier) and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string name)
    {
        await using (var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(ConnectionStringFor("postgres")) { Pooling = false }.ConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await command.ExecuteNonQueryAsync();
        }
        return ConnectionStringFor(name);
    }

    /// <summary>
    /// The server log's WARNING, ERROR, FATAL and PANIC lines, each with the DETAIL, HINT, CONTEXT or
    /// STATEMENT lines that follow it (first <paramref name="max"/>), and how many there were.
    /// </summary>
    public (IReadOnlyList<string> Lines, int Count) LogProblems(int max = 10)
    {
        var lines = new List<string>();
        var count = 0;
        try
        {
            var attached = false;
            foreach (var line in File.ReadLines(LogFile))
            {
                if (line.Contains("WARNING:", StringComparison.Ordinal) || line.Contains("ERROR:", StringComparison.Ordinal)
                    || line.Contains("FATAL:", StringComparison.Ordinal) || line.Contains("PANIC:", StringComparison.Ordinal))
                {
                    count++;
                    attached = lines.Count < max;
                    if (attached) lines.Add(line.Trim());
                }
                else if (attached && (line.Contains("DETAIL:", StringComparison.Ordinal) || line.Contains("HINT:", StringComparison.Ordinal)
                         || line.Contains("CONTEXT:", StringComparison.Ordinal) || line.Contains("STATEMENT:", StringComparison.Ordinal)
                         || line.StartsWith('\t')))
                    lines[^1] += " " + line.Trim();
                else attached = false;
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return (lines, count);
    }

    /// <summary>Stops the server (fast: connections cut, a checkpoint) and deletes its folder.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (LiveLock)
        {
            if (_disposed) return;
            _disposed = true;
            Live.Remove(this);
        }
        if (_running)
        {
            _running = false;
            await RunAsync(Located.Value, "pg_ctl", "stop", "-w", "-t", ((int)CommandTimeout.TotalSeconds).ToString(), "-D", DataDirectory, "-m", "fast");
        }
        try { Directory.Delete(_root, recursive: true); }
        catch (IOException) { /* a temp folder; the OS cleans up what is still in use */ }
        catch (UnauthorizedAccessException) { }
    }

    /// <summary>Stops the server at once (immediate: no checkpoint) and deletes its folder, without awaiting anything.</summary>
    private void StopNow()
    {
        lock (LiveLock)
        {
            if (_disposed) return;
            _disposed = true;
            Live.Remove(this);
        }
        var installation = Located.Value;
        var pgCtl = Path.Combine(installation.BinDirectory!, "pg_ctl");
        var info = new ProcessStartInfo(installation.RunAs is null ? pgCtl : installation.RunUser!);
        if (installation.RunAs is { } runAs) foreach (var arg in new[] { "-u", runAs, "--", pgCtl }) info.ArgumentList.Add(arg);
        foreach (var arg in new[] { "stop", "-w", "-D", DataDirectory, "-m", "immediate" }) info.ArgumentList.Add(arg);
        info.WorkingDirectory = "/";
        info.UseShellExecute = false;
        info.RedirectStandardOutput = info.RedirectStandardError = true;
        try
        {
            using var process = Process.Start(info);
            process?.WaitForExit(15_000);
        }
        catch (System.ComponentModel.Win32Exception) { }
        try { Directory.Delete(_root, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    private string LogTail(int lines)
    {
        try
        {
            var all = File.ReadAllLines(LogFile);
            return string.Join('\n', all[Math.Max(0, all.Length - lines)..]);
        }
        catch (IOException) { return "(no log)"; }
        catch (UnauthorizedAccessException) { return "(log not readable)"; }
    }

    private sealed record RunResult(int ExitCode, string Output, bool TimedOut);

    private static string Ended(RunResult result) => result.TimedOut ? $"killed after {CommandTimeout.TotalSeconds:0} s" : $"exit {result.ExitCode}";

    /// <summary>Runs one of the server programs, as the postgres user when we are root.</summary>
    private static Task<RunResult> RunAsync(Installation installation, string program, params string[] args)
    {
        var executable = Path.Combine(installation.BinDirectory!, program);
        return installation.RunAs is { } user
            ? RunProgramAsync(installation.RunUser!, ["-u", user, "--", executable, .. args])
            : RunProgramAsync(executable, args);
    }

    /// <summary>Runs a program from <c>/</c> (which the postgres user can enter), stdout and stderr together, within the command timeout.</summary>
    private static async Task<RunResult> RunProgramAsync(string file, IEnumerable<string> args)
    {
        var info = new ProcessStartInfo(file)
        {
            WorkingDirectory = "/",
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {file}");
        process.StandardInput.Close();
        var output = new StringBuilder();
        // pg_ctl start leaves the postmaster holding our pipes' other ends unless it redirects them: it
        // does (-l), but read to the process's exit, not to EOF, so a pipe kept open never hangs us.
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(CommandTimeout);
        var timedOut = false;
        try { await process.WaitForExitAsync(timeout.Token); }
        catch (OperationCanceledException)
        {
            timedOut = true;
            try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        }
        foreach (var stream in new[] { stdout, stderr })
            if (await Task.WhenAny(stream, Task.Delay(2000)) == stream) output.Append(await stream);
        return new RunResult(timedOut ? -1 : process.ExitCode, output.ToString(), timedOut);
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Where the PostgreSQL programs are and who runs them.</summary>
    private sealed record Installation(string? BinDirectory, string? RunAs, string? RunUser, string? Missing)
    {
        public static Installation Locate()
        {
            if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
                return new(null, null, null, "the benchmark starts PostgreSQL with initdb and pg_ctl on Linux or macOS only");
            // BROKER_BENCH_PG_BIN picks the programs (another version); a folder without them means none.
            var chosen = Environment.GetEnvironmentVariable("BROKER_BENCH_PG_BIN");
            if (chosen is { Length: > 0 } && !HasServer(chosen))
                return new(null, null, null, $"no PostgreSQL server programs (initdb, pg_ctl, postgres) in BROKER_BENCH_PG_BIN={chosen}");
            var bin = chosen is { Length: > 0 } ? chosen : FindBinDirectory();
            if (bin is null)
                return new(null, null, null, "no PostgreSQL server programs (initdb, pg_ctl, postgres) in /usr/lib/postgresql/*/bin or on PATH (Debian: apt-get install postgresql)");
            if (!Environment.IsPrivilegedProcess) return new(bin, null, null, null);

            // PostgreSQL refuses to run as root: as root, its programs run as the postgres user.
            var runUser = new[] { "/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser" }.FirstOrDefault(File.Exists);
            if (runUser is null)
                return new(bin, null, null, "running as root, and no runuser to run PostgreSQL as the postgres user");
            if (!File.Exists("/etc/passwd") || !File.ReadLines("/etc/passwd").Any(l => l.StartsWith(User + ":", StringComparison.Ordinal)))
                return new(bin, null, null, "running as root, and there is no postgres OS user to run PostgreSQL as (Debian's package creates it)");
            return new(bin, User, runUser, null);
        }

        private static string? FindBinDirectory()
        {
            // Debian's layout: one folder per major version; the newest wins.
            const string debian = "/usr/lib/postgresql";
            if (Directory.Exists(debian))
            {
                var versions = Directory.GetDirectories(debian)
                    .OrderByDescending(d => int.TryParse(Path.GetFileName(d), out var major) ? major : -1);
                foreach (var version in versions)
                    if (HasServer(Path.Combine(version, "bin")))
                        return Path.Combine(version, "bin");
            }
            foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
            {
                var initdb = new FileInfo(Path.Combine(directory, "initdb"));
                if (!initdb.Exists) continue;
                // /usr/local/bin/initdb may be a link into the real folder, where pg_ctl and postgres are.
                var real = Path.GetDirectoryName(initdb.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? initdb.FullName);
                if (real is not null && HasServer(real)) return real;
            }
            return null;
        }

        private static bool HasServer(string directory) =>
            File.Exists(Path.Combine(directory, "initdb")) && File.Exists(Path.Combine(directory, "pg_ctl")) && File.Exists(Path.Combine(directory, "postgres"));
    }
}
