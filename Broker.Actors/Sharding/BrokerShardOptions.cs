using Akka.Cluster.Hosting;
using Akka.Cluster.Sharding;

namespace Broker.Actors.Sharding;

/// <summary>How every shard region of the broker (rooms, users, tickets) is set up.</summary>
public static class BrokerShardOptions
{
    /// <summary>
    /// On the nodes of <paramref name="role"/>, coordinated through DData. Entities are not
    /// remembered: a room comes back on first use, with a new epoch.
    /// </summary>
    public static ShardOptions For(string role) => new()
    {
        Role = role,
        StateStoreMode = StateStoreMode.DData,
        RememberEntities = false,
    };
}
