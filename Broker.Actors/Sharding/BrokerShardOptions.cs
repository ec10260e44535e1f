using Akka.Cluster.Hosting;
using Akka.Cluster.Sharding;

namespace Broker.Actors.Sharding;

/// <summary>How every shard region of the broker (rooms, users, tickets) is set up.</summary>
public static class BrokerShardOptions
{
    /// <summary>
    /// On the nodes of <paramref name="role"/>, coordinated through DData. Entities are not
    /// remembered: a room comes back on first use (a memory room with a new epoch, a durable one
    /// from its journal).
    /// </summary>
    /// <param name="handOffStopMessage">What an entity is told when its shard moves to another node; null: <c>PoisonPill</c>.</param>
    public static ShardOptions For(string role, object? handOffStopMessage = null) => new()
    {
        Role = role,
        StateStoreMode = StateStoreMode.DData,
        RememberEntities = false,
        HandOffStopMessage = handOffStopMessage,
    };
}
