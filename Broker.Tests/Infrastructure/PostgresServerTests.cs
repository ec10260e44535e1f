using Npgsql;

namespace Broker.Tests.Infrastructure;

/// <summary>
/// The PostgreSQL fixture itself: a real server, a database per test, and the stop and start the
/// durability tests use for "the database is down, then back".
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresServerTests(PostgresServer shared)
{
    /// <summary>initdb and a start on a busy 2-core machine: beyond the client default.</summary>
    private static readonly TimeSpan ServerTimeout = PostgresServer.CommandTimeout * 2;

    [PostgresFact]
    public async Task Shared_server_answers_and_gives_each_test_a_database_of_its_own()
    {
        var first = await shared.CreateDatabaseAsync().OrTimeout();
        var second = await shared.CreateDatabaseAsync("fixture_isolation_" + Guid.NewGuid().ToString("N")[..8]).OrTimeout();

        Assert.Equal(1, await ScalarAsync<int>(first, "select 1").OrTimeout());
        Assert.Contains("Host=127.0.0.1", first);
        Assert.Contains($"Port={shared.Port}", first);
        Assert.Contains("Username=postgres", first);

        await ExecuteAsync(first, "create table rooms (id text primary key)").OrTimeout();
        Assert.True(await ScalarAsync<bool>(first, "select to_regclass('rooms') is not null").OrTimeout());
        Assert.False(await ScalarAsync<bool>(second, "select to_regclass('rooms') is not null").OrTimeout());
    }

    [PostgresFact]
    public async Task A_stopped_server_refuses_connections_and_is_back_on_the_same_port_with_its_data_after_start()
    {
        using var server = await PostgresServer.StartNewAsync().OrTimeout(ServerTimeout);
        var database = await server.CreateDatabaseAsync("durable").OrTimeout();
        await ExecuteAsync(database, "create table journal (n int); insert into journal values (7)").OrTimeout();
        var port = server.Port;

        await server.StopAsync().OrTimeout(ServerTimeout);

        Assert.False(server.IsRunning);
        await Assert.ThrowsAnyAsync<NpgsqlException>(() => ScalarAsync<int>(database, "select 1")).OrTimeout();

        await server.StartAsync().OrTimeout(ServerTimeout);

        Assert.True(server.IsRunning);
        Assert.Equal(port, server.Port);
        Assert.Equal(1, await ScalarAsync<int>(database, "select 1").OrTimeout());
        Assert.Equal(7, await ScalarAsync<int>(database, "select n from journal").OrTimeout());
    }

    [PostgresFact]
    public async Task Disposing_a_server_stops_it_and_deletes_its_folder()
    {
        var server = await PostgresServer.StartNewAsync().OrTimeout(ServerTimeout);
        var root = server.RootDirectory!;
        var connectionString = server.ConnectionString;
        Assert.True(Directory.Exists(server.DataDirectory));

        server.Dispose();

        Assert.False(Directory.Exists(root));
        await Assert.ThrowsAnyAsync<NpgsqlException>(() => ScalarAsync<int>(connectionString, "select 1")).OrTimeout();
    }

    /// <summary>Unpooled, so each call really connects (a pooled connection would hide a stopped server until used).</summary>
    private static async Task<T> ScalarAsync<T>(string connectionString, string sql)
    {
        await using var connection = await OpenAsync(connectionString);
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = await OpenAsync(connectionString);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<NpgsqlConnection> OpenAsync(string connectionString)
    {
        var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, Timeout = 5 }.ConnectionString);
        try
        {
            await connection.OpenAsync();
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }
}
