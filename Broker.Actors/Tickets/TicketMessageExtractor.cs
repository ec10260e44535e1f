using Akka.Cluster.Sharding;
using Broker.Contracts.Cluster;

namespace Broker.Actors.Tickets;

/// <summary>Routes <see cref="IWithTicketId"/> messages to their ticket's shard.</summary>
public sealed class TicketMessageExtractor(int maxShards = 100) : HashCodeMessageExtractor(maxShards)
{
    public override string? EntityId(object message) => (message as IWithTicketId)?.TicketId;
}
