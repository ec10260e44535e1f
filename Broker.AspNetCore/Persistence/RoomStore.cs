using System.Data.Common;
using Broker.AspNetCore.Configuration;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Broker.AspNetCore.Persistence;

/// <summary>
/// The store of durable rooms as configured (PROTOCOL §9.2): which provider, the connection string
/// in effect (SQLite's default file under the content root), linq2db's name for the provider, and
/// a probe that opens a connection, for start-up and <c>/health/ready</c>.
/// </summary>
public sealed class RoomStore
{
    public RoomStore(BrokerOptions options, IHostEnvironment environment)
    {
        Provider = options.Persistence.EffectiveProvider(options.Cluster);
        ConnectionString = Provider switch
        {
            PersistenceOptions.Sqlite => SqliteUnderContentRoot(options.Persistence.ConnectionString is { Length: > 0 } configured
                ? configured : PersistenceOptions.DefaultSqliteConnectionString, environment.ContentRootPath),
            PersistenceOptions.PostgreSql => options.Persistence.ConnectionString,
            _ => null,
        };
    }

    /// <summary><c>sqlite</c>, <c>postgresql</c> or <c>none</c>.</summary>
    public string Provider { get; }

    /// <summary>Whether a store is configured at all.</summary>
    public bool Configured => Provider != PersistenceOptions.None;

    /// <summary>The connection string in effect; null without a store.</summary>
    public string? ConnectionString { get; }

    /// <summary>linq2db's provider name, what Akka.Persistence.Sql takes.</summary>
    public string Linq2DbProvider => Provider == PersistenceOptions.Sqlite ? LinqToDB.ProviderName.SQLiteMS : LinqToDB.ProviderName.PostgreSQL15;

    /// <summary>Where the store is, for messages: the SQLite file or the PostgreSQL host, never credentials.</summary>
    public string Describe() => Provider switch
    {
        PersistenceOptions.Sqlite => $"SQLite file {new SqliteConnectionStringBuilder(ConnectionString).DataSource}",
        PersistenceOptions.PostgreSql => DescribePostgres(),
        _ => "no store",
    };

    /// <summary>
    /// Once at start-up: SQLite's write-ahead log, so recoveries read while the journal writes
    /// instead of waiting on its lock (the mode is kept in the file).
    /// </summary>
    public void Prepare()
    {
        if (Provider != PersistenceOptions.Sqlite) return;
        using var connection = new SqliteConnection(ConnectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode=WAL;";
        command.ExecuteScalar();
    }

    /// <summary>Opens and closes one connection (and runs <c>select 1</c>); throws what the provider throws.</summary>
    public async Task ProbeAsync(CancellationToken cancellationToken)
    {
        await using var connection = Open();
        await connection.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "select 1";
        await command.ExecuteScalarAsync(cancellationToken);
    }

    /// <summary>
    /// At start-up: the store must answer within <paramref name="deadline"/> (a database starting
    /// beside the broker gets that long), else the node does not start, and says why naming the key.
    /// </summary>
    public void EnsureReachable(TimeSpan deadline)
    {
        if (!Configured) return;
        var until = DateTime.UtcNow + deadline;
        while (true)
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                ProbeAsync(timeout.Token).GetAwaiter().GetResult();
                return;
            }
            catch (Exception e) when (e is DbException or InvalidOperationException or OperationCanceledException or System.Net.Sockets.SocketException or ArgumentException)
            {
                if (DateTime.UtcNow >= until)
                    throw new InvalidOperationException(
                        $"Broker:Persistence:ConnectionString: cannot reach the durable-room store ({Describe()}, Broker:Persistence:Provider={Provider}): " +
                        $"{e.GetBaseException().Message}", e);
                Thread.Sleep(500);
            }
        }
    }

    private DbConnection Open() => Provider switch
    {
        PersistenceOptions.Sqlite => new SqliteConnection(ConnectionString),
        PersistenceOptions.PostgreSql => new NpgsqlConnection(ConnectionString),
        _ => throw new InvalidOperationException("no durable-room store is configured"),
    };

    private string DescribePostgres()
    {
        var builder = new NpgsqlConnectionStringBuilder(ConnectionString);
        return $"PostgreSQL at {builder.Host}:{builder.Port}, database {builder.Database}";
    }

    /// <summary>A relative SQLite file is under the content root, and its folder is created (a fresh checkout has no <c>data/</c>).</summary>
    private static string SqliteUnderContentRoot(string connectionString, string contentRoot)
    {
        var builder = new SqliteConnectionStringBuilder(connectionString);
        if (builder.DataSource is { Length: > 0 } file && file != ":memory:" && builder.Mode != SqliteOpenMode.Memory)
        {
            var path = Path.IsPathRooted(file) ? file : Path.Combine(contentRoot, file);
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            builder.DataSource = path;
        }
        // Several writers (journal, snapshots) share the file: wait for the lock rather than fail at once.
        if (builder.DefaultTimeout < 30) builder.DefaultTimeout = 30;
        return builder.ToString();
    }
}
