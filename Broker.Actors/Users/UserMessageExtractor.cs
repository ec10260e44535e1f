using Akka.Cluster.Sharding;
using Broker.Contracts.Cluster;

namespace Broker.Actors.Users;

/// <summary>Routes <see cref="IWithUserId"/> messages to their user's shard.</summary>
public sealed class UserMessageExtractor(int maxShards = 100) : HashCodeMessageExtractor(maxShards)
{
    public override string? EntityId(object message) => (message as IWithUserId)?.UserId;
}
