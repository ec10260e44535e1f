using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Cluster.Sharding;
using Akka.Hosting;
using Broker.Actors.Observability;
using Broker.Actors.Rooms;
using Broker.Actors.Sharding;
using Broker.Contracts.Cluster;
using Broker.Contracts.Protocol;
using static Broker.Contracts.Cluster.UserCommands;
using static Broker.Contracts.Cluster.UserEvents;

namespace Broker.Actors.Users;

/// <summary>
/// One user's entry in the cluster-wide directory (a sharded entity): every connection of the
/// user on any node, so <c>send</c> reaches all of them and the API can answer "is u online".
/// Connections are watched, so a crashed connection or a lost node cleans up by itself. Being the
/// one place that counts them, it also refuses a connection past <c>Broker:Limits:MaxConnectionsPerUser</c>.
/// </summary>
public sealed class UserActor : ReceiveActor
{
    private readonly string _userId;
    private readonly TimeSpan _idleTimeout;
    private readonly Dictionary<string, Entry> _connections = new(StringComparer.Ordinal);

    public UserActor(string userId, TimeSpan idleTimeout)
    {
        _userId = userId;
        _idleTimeout = idleTimeout;
        Receive<RegisterConnection>(register =>
        {
            var repeat = _connections.TryGetValue(register.ConnectionId, out var known);
            // The one place that sees every connection of the user, one message at a time: two
            // connections racing on two nodes cannot both get past the cap. Only a new connection's
            // first registration carries a limit; one registered again after node loss never does,
            // so a count that is momentarily off never evicts a connection.
            if (!repeat && register.Limit > 0 && _connections.Count >= register.Limit)
            {
                Sender.Tell(new ConnectionRefused(_userId, register.ConnectionId, register.Limit));
                return;
            }
            // A repeat (the node's user hub registering again) keeps the rooms it already had.
            _connections[register.ConnectionId] = repeat && known!.Connection.Equals(register.Connection)
                ? known
                : new Entry(register.Connection, []);
            Context.Watch(register.Connection);
            Context.SetReceiveTimeout(null);
            if (register.Confirm) Sender.Tell(new ConnectionRegistered(_userId, register.ConnectionId));
        });
        Receive<UnregisterConnection>(unregister => Remove(unregister.ConnectionId));
        Receive<UpdateRooms>(update =>
        {
            if (_connections.TryGetValue(update.ConnectionId, out var entry))
                _connections[update.ConnectionId] = entry with { Rooms = update.Rooms };
        });
        Receive<SendToUser>(send =>
        {
            var deliver = new ConnectionCommands.Deliver(ServerFrames.Direct(send.From, send.Payload));
            foreach (var entry in _connections.Values) entry.Connection.Tell(deliver);
            BrokerMetrics.DirectSent(_connections.Count);
            Sender.Tell(new DirectDelivered(send.RequestId, _connections.Count, send.Seq));
        });
        Receive<DisconnectUser>(disconnect =>
        {
            // Forgotten now rather than when they report back, so a status read right after the
            // API call already shows them gone, and a reconnect registers afresh.
            var close = new ConnectionCommands.CloseConnection(disconnect.Code, disconnect.Reason);
            var count = _connections.Count;
            foreach (var id in _connections.Keys.ToArray())
            {
                _connections[id].Connection.Tell(close);
                Remove(id);
            }
            Sender.Tell(new UserDisconnected(_userId, count));
        });
        Receive<GetUserStatus>(_ => Sender.Tell(new UserStatus(
            _userId,
            _connections.Count > 0,
            _connections.Count,
            _connections.Values.SelectMany(e => e.Rooms).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray())));
        Receive<GetUserConnections>(_ =>
        {
            // A connection on this node has a local path (no host): name it by this node's address.
            var self = Akka.Cluster.Cluster.Get(Context.System).SelfAddress;
            Sender.Tell(new UserConnections(_userId, _connections
                .Select(c => new UserConnection(c.Key, NodeName(c.Value.Connection.Path.Address.HasLocalScope ? self : c.Value.Connection.Path.Address), c.Value.Rooms))
                .OrderBy(c => c.Node, StringComparer.Ordinal).ThenBy(c => c.ConnectionId, StringComparer.Ordinal)
                .ToArray()));
        });
        Receive<Terminated>(t =>
        {
            foreach (var (id, entry) in _connections)
                if (entry.Connection.Equals(t.ActorRef)) { Remove(id); break; }
        });
        Receive<ReceiveTimeout>(_ =>
        {
            if (_connections.Count == 0) Context.Parent.Tell(new Passivate(PoisonPill.Instance));
        });
        Context.SetReceiveTimeout(idleTimeout);
    }

    public static Props Props(string userId, TimeSpan idleTimeout) =>
        Akka.Actor.Props.Create(() => new UserActor(userId, idleTimeout));

    /// <summary>A node's name as the host gives it (<c>host:port</c> of its Akka address).</summary>
    private static string NodeName(Address address) => $"{address.Host}:{address.Port}";

    private void Remove(string connectionId)
    {
        if (!_connections.Remove(connectionId, out var entry)) return;
        Context.Unwatch(entry.Connection);
        if (_connections.Count == 0) Context.SetReceiveTimeout(_idleTimeout);
    }

    private sealed record Entry(IActorRef Connection, string[] Rooms);
}

/// <summary>Registry key for the node's <see cref="UserHub"/>.</summary>
public sealed class UserHubKey;

/// <summary>Registers the user directory with Akka.Hosting.</summary>
public static class UserActorHostingExtensions
{
    /// <summary>
    /// The user directory's shard region and this node's <see cref="UserHub"/> (registered as
    /// <see cref="UserHubKey"/>), on the room tier's idle and rejoin timings.
    /// </summary>
    public static AkkaConfigurationBuilder AddUserActor(this AkkaConfigurationBuilder akka, RoomSettings settings, string role = "broker") =>
        akka
            .WithShardRegion<UserActor>("users", userId => UserActor.Props(userId, settings.IdleTimeout), new UserMessageExtractor(),
                BrokerShardOptions.For(role))
            .WithActors((system, registry) => registry.Register<UserHubKey>(
                system.ActorOf(UserHub.Props(registry.Get<UserActor>(), settings.RejoinInterval, settings.AnswerTimeout), "user-hub")));
}
