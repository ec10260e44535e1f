using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Cluster.Sharding;
using Akka.Hosting;
using Broker.Actors.Observability;
using Broker.Actors.Tickets;
using Broker.Actors.Users;

namespace Broker.Actors.Rooms;

/// <summary>Registry key for the node's <see cref="RoomHub"/>.</summary>
public sealed class RoomHubKey;

/// <summary>Registry key for the node's <see cref="UserHub"/>.</summary>
public sealed class UserHubKey;

/// <summary>Registers the room and user tiers with Akka.Hosting.</summary>
public static class RoomHostingExtensions
{
    /// <summary>Shard regions for rooms, the user directory and handshake tickets, and this node's <see cref="RoomHub"/> and <see cref="UserHub"/>.</summary>
    public static AkkaConfigurationBuilder WithRoomsAndUsers(this AkkaConfigurationBuilder akka, RoomSettings settings, string role = "broker")
    {
        var shardOptions = new ShardOptions
        {
            Role = role,
            StateStoreMode = StateStoreMode.DData,
            // Rooms are not remembered: a room comes back on first use, with a new epoch.
            RememberEntities = false,
        };
        // One history budget per node (this builder makes one actor system), shared by its rooms.
        var historyBudget = new HistoryBudget(settings.HistoryNodeMaxBytes);
        return akka
            .WithShardRegion<RoomActor>("rooms", roomId => RoomActor.Props(roomId, settings, historyBudget), new RoomMessageExtractor(), shardOptions)
            .WithShardRegion<UserActor>("users", userId => UserActor.Props(userId, settings.IdleTimeout), new UserMessageExtractor(), shardOptions)
            .WithShardRegion<TicketActor>("tickets", TicketActor.Props, new TicketMessageExtractor(), shardOptions)
            .WithActors((system, registry) =>
            {
                var hub = system.ActorOf(RoomHub.Props(registry.Get<RoomActor>(), settings.RejoinInterval, settings.AnswerTimeout), "room-hub");
                registry.Register<RoomHubKey>(hub);
                registry.Register<UserHubKey>(system.ActorOf(UserHub.Props(registry.Get<UserActor>(), settings.RejoinInterval, settings.AnswerTimeout), "user-hub"));
                var self = Akka.Cluster.Cluster.Get(system).SelfAddress;
                var gauge = BrokerMetrics.ObserveHistory(historyBudget, $"{self.Host}:{self.Port}");
                system.WhenTerminated.ContinueWith(_ => gauge.Dispose(), TaskScheduler.Default);
            });
    }
}
