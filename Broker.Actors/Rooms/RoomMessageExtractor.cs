using Akka.Cluster.Sharding;
using Broker.Contracts.Cluster;

namespace Broker.Actors.Rooms;

/// <summary>Routes <see cref="IWithRoomId"/> messages to their room's shard.</summary>
public sealed class RoomMessageExtractor(int maxShards = 100) : HashCodeMessageExtractor(maxShards)
{
    public override string? EntityId(object message) => (message as IWithRoomId)?.RoomId;
}
