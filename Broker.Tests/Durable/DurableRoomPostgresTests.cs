namespace Broker.Tests.Durable;

/// <summary>
/// The single-node durable-room guarantees on PostgreSQL, the clustered store: a restart keeps the
/// epoch and every acked message, through snapshots that delete the events before them, and keys.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class DurableRoomPostgresTests(PostgresServer postgres)
{
    [PostgresFact]
    public async Task Restarts_with_snapshots_and_clean_up_lose_no_acked_message_and_keep_the_epoch()
    {
        var settings = new Dictionary<string, string?>
        {
            ["Broker:Persistence:Provider"] = "postgresql",
            ["Broker:Persistence:ConnectionString"] = await postgres.CreateDatabaseAsync(),
            ["Broker:Persistence:SnapshotEvery"] = "4",
        };
        await DurableRestartScenario.RestartsLoseNothingAsync(settings, "pg-log");
    }
}
