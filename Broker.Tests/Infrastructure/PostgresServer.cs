using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Broker.Tests.JsClient;
using Npgsql;

namespace Broker.Tests.Infrastructure;

/// <summary>
/// A real PostgreSQL server for tests: <c>initdb</c> into a temporary folder, <c>pg_ctl start</c> on
/// a free port of 127.0.0.1 (trust auth, no other address, its Unix socket inside that folder). As
/// root (CI) every server program runs as the <c>postgres</c> OS user, since PostgreSQL refuses root.
/// One server is shared per test run through <see cref="PostgresCollection"/> (each test takes a
/// database of its own from <see cref="CreateDatabaseAsync"/>); a test that stops and starts the
/// database owns one (<see cref="StartNewAsync"/>, then <see cref="StopAsync"/>/<see cref="StartAsync"/>).
/// Tests that need it are <see cref="PostgresFactAttribute"/>s: skipped where PostgreSQL is missing,
/// unless <c>BROKER_REQUIRE_POSTGRES=1</c> (CI).
/// </summary>
public sealed partial class PostgresServer : IAsyncLifetime, IAsyncDisposable, IDisposable
{
    /// <summary>The user the server is initialised with; trust auth, so no password.</summary>
    public const string User = "postgres";

    /// <summary>Bounds each initdb and pg_ctl run (a busy 2-core machine can take a while to initdb).</summary>
    public static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(60);

    /// <summary>A free port is only free until someone binds it: a first start that loses the race tries another.</summary>
    private const int PortAttempts = 3;

    private static readonly Lazy<Installation> Located = new(Installation.Locate);
    private static readonly Lock LiveLock = new();
    private static readonly HashSet<PostgresServer> Live = [];

    private readonly SemaphoreSlim _gate = new(1, 1);
    private string? _root;
    private volatile bool _running;
    private bool _disposed;

    // A test run that ends without disposing (a crash, Ctrl+C in the runner) must not leave servers behind.
    static PostgresServer() => AppDomain.CurrentDomain.ProcessExit += (_, _) =>
    {
        PostgresServer[] live;
        lock (LiveLock) live = [.. Live];
        foreach (var server in live) server.Dispose();
    };

    /// <summary>Why no server can be started here (no PostgreSQL binaries, root without a postgres user…), or null when one can.</summary>
    public static string? Missing => Located.Value.Missing;

    /// <summary>Whether CI demands the PostgreSQL tests (<c>BROKER_REQUIRE_POSTGRES=1</c>): then <see cref="Missing"/> fails them instead of skipping.</summary>
    public static bool Required => Environment.GetEnvironmentVariable("BROKER_REQUIRE_POSTGRES") == "1";

    /// <summary>The skip reason for a test that needs PostgreSQL, or null when it runs.</summary>
    public static string? SkipReason => Missing is { } missing && !Required
        ? $"PostgreSQL test skipped: {missing} (BROKER_REQUIRE_POSTGRES=1 turns this skip into a failure)"
        : null;

    /// <summary>The folder holding <c>initdb</c>, <c>pg_ctl</c> and <c>postgres</c>, or null when none was found.</summary>
    public static string? BinDirectory => Located.Value.BinDirectory;

    /// <summary>A server of the test's own, started (initdb and start; dispose it to stop it and delete its folder).</summary>
    public static async Task<PostgresServer> StartNewAsync()
    {
        var server = new PostgresServer();
        try
        {
            await server.StartAsync();
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>The loopback port, chosen at the first start and kept by every restart; 0 before that.</summary>
    public int Port { get; private set; }

    /// <summary>The temporary folder (data, socket, log), deleted by <see cref="Dispose"/>; null before the first start.</summary>
    public string? RootDirectory => _root;

    /// <summary>The cluster's data directory (what initdb made).</summary>
    public string DataDirectory => Path.Combine(Root, "data");

    /// <summary>The server's log (pg_ctl's <c>-l</c>): what to read when a test sees the database misbehave.</summary>
    public string LogFile => Path.Combine(Root, "server.log");

    /// <summary>Whether the server is up (between <see cref="StartAsync"/> and <see cref="StopAsync"/>).</summary>
    public bool IsRunning => _running;

    /// <summary>Npgsql connection string of the <c>postgres</c> database: <c>Host=127.0.0.1;Port=…;Username=postgres;Database=postgres</c>.</summary>
    public string ConnectionString => ConnectionStringFor("postgres");

    /// <summary>The connection string of <paramref name="database"/> on this server (it may not exist yet).</summary>
    public string ConnectionStringFor(string database)
    {
        if (Port == 0)
            throw new InvalidOperationException(Missing is { } missing
                ? $"no PostgreSQL server: {missing}"
                : "the PostgreSQL server was never started (StartAsync)");
        return new NpgsqlConnectionStringBuilder { Host = "127.0.0.1", Port = Port, Username = User, Database = database }.ConnectionString;
    }

    /// <summary>
    /// Creates an empty database and returns its connection string, so that tests on a shared
    /// server do not see each other's tables. <paramref name="name"/>: letters, digits and
    /// underscores, at most 63; null for a unique generated one. A name that exists already fails.
    /// </summary>
    public async Task<string> CreateDatabaseAsync(string? name = null)
    {
        name ??= "test_" + Guid.NewGuid().ToString("N");
        if (!DatabaseName().IsMatch(name))
            throw new ArgumentException($"'{name}' is not a database name here: letters, digits and underscores, at most 63, not starting with a digit", nameof(name));
        // Not pooled: a pooled connection would outlive a StopAsync broken, and fail the next call.
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(ConnectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
        await command.ExecuteNonQueryAsync();
        return ConnectionStringFor(name);
    }

    /// <summary>
    /// Starts the server: the first time into a new folder on a free port (initdb first), later on
    /// the same port and data directory, with the data written before <see cref="StopAsync"/>.
    /// Does nothing if it is running.
    /// </summary>
    public async Task StartAsync()
    {
        await _gate.WaitAsync();
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_running) return;
            var installation = Located.Value;
            if (installation.Missing is { } missing)
                throw new InvalidOperationException($"no PostgreSQL server can be started: {missing}" +
                    (Required ? " (BROKER_REQUIRE_POSTGRES=1 requires the PostgreSQL tests)" : ""));

            var first = _root is null;
            if (first) await InitializeClusterAsync(installation);
            for (var attempt = 1; ; attempt++)
            {
                if (first) Port = FreeLoopbackPort();
                var start = await RunAsync(installation, "pg_ctl", "start", "-w", "-t", ((int)CommandTimeout.TotalSeconds).ToString(),
                    "-D", DataDirectory, "-l", LogFile, "-o", $"-p {Port}");
                if (start.ExitCode == 0) break;
                var log = LogTail();
                if (first && attempt < PortAttempts && log.Contains("could not bind", StringComparison.Ordinal)) continue;
                throw new InvalidOperationException($"pg_ctl start on port {Port} failed ({Ended(start)}):\n{start.Output}\n{LogFile}:\n{log}");
            }
            _running = true;
            lock (LiveLock) Live.Add(this);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Stops the server as a crash would (<c>pg_ctl stop -m immediate</c>: connections cut, no
    /// checkpoint; committed data survives). New connections are refused until <see cref="StartAsync"/>.
    /// Pooled connections opened before stay in their pools, broken: the client finds out on use.
    /// </summary>
    public async Task StopAsync()
    {
        await _gate.WaitAsync();
        try
        {
            if (_running) await StopServerAsync();
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The collection fixture's start: a no-op where PostgreSQL is missing and not required (its tests skip).</summary>
    public Task InitializeAsync() => SkipReason is null ? StartAsync() : Task.CompletedTask;

    /// <summary>Stops the server (immediately) and deletes its folder.</summary>
    public async Task DisposeAsync()
    {
        await _gate.WaitAsync();
        try
        {
            if (_disposed) return;
            _disposed = true;
            try
            {
                if (_running) await StopServerAsync();
            }
            finally
            {
                lock (LiveLock) Live.Remove(this);
                DeleteRoot();
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    ValueTask IAsyncDisposable.DisposeAsync() => new(DisposeAsync());

    /// <inheritdoc cref="DisposeAsync()"/>
    // On the thread pool: blocking on the awaits where they were posted (xunit's context) could deadlock.
    public void Dispose() => Task.Run(DisposeAsync).GetAwaiter().GetResult();

    private string Root => _root ?? throw new InvalidOperationException("the PostgreSQL server was never started (StartAsync)");

    private async Task InitializeClusterAsync(Installation installation)
    {
        // As root under /tmp (world-traversable), whatever TMPDIR says: the postgres user must reach it.
        var parent = installation.RunAs is null ? Path.GetTempPath() : "/tmp";
        _root = Path.Combine(parent, "broker-pg-" + Guid.NewGuid().ToString("N")[..12]);
        var socketDirectory = Path.Combine(_root, "run");
        Directory.CreateDirectory(socketDirectory);
        if (installation.RunAs is { } user)
        {
            var chown = await JsNodeProcess.RunProcessAsync("chown", "/", CommandTimeout, null, "-R", $"{user}:", _root);
            if (chown.ExitCode != 0) throw new InvalidOperationException($"chown of {_root} to {user} failed ({Ended(chown)}):\n{chown.Output}");
        }

        var initdb = await RunAsync(installation, "initdb", "-D", DataDirectory, "-U", User, "--auth=trust",
            "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions");
        if (initdb.ExitCode != 0) throw new InvalidOperationException($"initdb failed ({Ended(initdb)}):\n{initdb.Output}");

        // Appended as root to a file the postgres user owns: ownership and mode stay.
        await File.AppendAllTextAsync(Path.Combine(DataDirectory, "postgresql.conf"), $"""

            # Broker.Tests' PostgresServer: loopback TCP only (the port is pg_ctl's -o -p), the socket in
            # the server's own folder (not the system's /var/run/postgresql).
            listen_addresses = '127.0.0.1'
            unix_socket_directories = '{socketDirectory}'
            # A throwaway server gives up durability across an OS crash only: writes still reach the
            # OS, so a crash of the server (StopAsync) keeps every commit. synchronous_commit stays
            # on: off would lose the last commits to an immediate stop, as durable rooms must not.
            fsync = off
            full_page_writes = off
            # Each test database has its own client pool: room for several at once.
            max_connections = 200

            """);
    }

    private async Task StopServerAsync()
    {
        var stop = await RunAsync(Located.Value, "pg_ctl", "stop", "-w", "-t", ((int)CommandTimeout.TotalSeconds).ToString(),
            "-D", DataDirectory, "-m", "immediate");
        // pg_ctl fails on a server that is gone already (no postmaster.pid): stopped all the same.
        if (stop.ExitCode != 0 && File.Exists(Path.Combine(DataDirectory, "postmaster.pid")))
            throw new InvalidOperationException($"pg_ctl stop failed ({Ended(stop)}):\n{stop.Output}");
        _running = false;
    }

    private void DeleteRoot()
    {
        if (_root is null || !Directory.Exists(_root)) return;
        try { Directory.Delete(_root, recursive: true); }
        catch (IOException) { /* a temp folder; the OS cleans up what is still in use */ }
        catch (UnauthorizedAccessException) { /* as above */ }
    }

    private string LogTail()
    {
        try
        {
            var lines = File.ReadAllLines(LogFile);
            return string.Join('\n', lines[Math.Max(0, lines.Length - 30)..]);
        }
        catch (IOException) { return "(no log)"; }
        catch (UnauthorizedAccessException) { return "(log not readable)"; }
    }

    /// <summary>Runs one of the server programs, as the postgres user when we are root; from <c>/</c>, which that user can enter.</summary>
    private static Task<NodeRunResult> RunAsync(Installation installation, string program, params string[] args)
    {
        var executable = Path.Combine(installation.BinDirectory!, program);
        return installation.RunAs is { } user
            ? JsNodeProcess.RunProcessAsync(installation.RunUser!, "/", CommandTimeout, null, ["-u", user, "--", executable, .. args])
            : JsNodeProcess.RunProcessAsync(executable, "/", CommandTimeout, null, args);
    }

    private static string Ended(NodeRunResult result) => result.TimedOut ? $"killed after {CommandTimeout}" : $"exit {result.ExitCode}";

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]{0,62}$")]
    private static partial Regex DatabaseName();

    /// <summary>Where the PostgreSQL programs are and who runs them, found once per test run.</summary>
    private sealed record Installation(string? BinDirectory, string? RunAs, string? RunUser, string? Missing)
    {
        public static Installation Locate()
        {
            if (OperatingSystem.IsWindows())
                return new(null, null, null, "the PostgreSQL fixture runs initdb and pg_ctl on Linux or macOS only");
            var bin = FindBinDirectory();
            if (bin is null)
                return new(null, null, null, "no PostgreSQL server programs (initdb, pg_ctl, postgres) in /usr/lib/postgresql/*/bin, pg_config --bindir or PATH: install Debian's postgresql package");
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
            if (PgConfigBinDirectory() is { } configured && HasServer(configured)) return configured;
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

        private static string? PgConfigBinDirectory()
        {
            try
            {
                using var process = Process.Start(new ProcessStartInfo("pg_config", "--bindir") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false });
                if (process is null) return null;
                var output = process.StandardOutput.ReadToEnd().Trim();
                return process.WaitForExit(5_000) && process.ExitCode == 0 && output.Length > 0 ? output : null;
            }
            catch (System.ComponentModel.Win32Exception) { return null; } // no pg_config on PATH
        }
    }
}

/// <summary>
/// A fact that needs PostgreSQL (<see cref="PostgresServer"/>): skipped, with the reason, where its
/// programs are missing, unless <c>BROKER_REQUIRE_POSTGRES=1</c> (CI), where it runs and fails.
/// </summary>
public sealed class PostgresFactAttribute : FactAttribute
{
    public PostgresFactAttribute()
    {
        if (PostgresServer.SkipReason is { } reason) Skip = reason;
    }
}

/// <summary>The theory form of <see cref="PostgresFactAttribute"/>.</summary>
public sealed class PostgresTheoryAttribute : TheoryAttribute
{
    public PostgresTheoryAttribute()
    {
        if (PostgresServer.SkipReason is { } reason) Skip = reason;
    }
}

/// <summary>
/// One PostgreSQL server for every test class in the collection: <c>[Collection(PostgresCollection.Name)]</c>
/// and a <see cref="PostgresServer"/> constructor parameter; each test takes its own database
/// (<see cref="PostgresServer.CreateDatabaseAsync"/>). A test must not stop this one: it owns a
/// server for that (<see cref="PostgresServer.StartNewAsync"/>).
/// </summary>
[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresServer>
{
    public const string Name = "postgres";
}
