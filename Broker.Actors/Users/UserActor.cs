using Akka.Actor;
using Akka.Cluster.Sharding;
using Broker.Actors.Connections;
using Broker.Actors.Observability;
using Broker.Contracts.Protocol;
using static Broker.Contracts.Cluster.UserCommands;
using static Broker.Contracts.Cluster.UserEvents;

namespace Broker.Actors.Users;

/// <summary>
/// One user's entry in the cluster-wide directory (a sharded entity): every connection of the
/// user on any node, so <c>send</c> reaches all of them and the API can answer "is u online".
/// Connections are watched, so a crashed connection or a lost node cleans up by itself.
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
            // A repeat (the node's user hub registering again) keeps the rooms it already had.
            _connections[register.ConnectionId] = _connections.TryGetValue(register.ConnectionId, out var known) && known.Connection.Equals(register.Connection)
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
            var deliver = new ConnectionMessages.Deliver(ServerFrames.Direct(send.From, send.Payload));
            foreach (var entry in _connections.Values) entry.Connection.Tell(deliver);
            BrokerMetrics.DirectSent(_connections.Count);
            Sender.Tell(new DirectDelivered(send.RequestId, _connections.Count, send.Seq));
        });
        Receive<DisconnectUser>(disconnect =>
        {
            // Forgotten now rather than when they report back, so a status read right after the
            // API call already shows them gone, and a reconnect registers afresh.
            var close = new ConnectionMessages.CloseConnection(disconnect.Code, disconnect.Reason);
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

    private void Remove(string connectionId)
    {
        if (!_connections.Remove(connectionId, out var entry)) return;
        Context.Unwatch(entry.Connection);
        if (_connections.Count == 0) Context.SetReceiveTimeout(_idleTimeout);
    }

    private sealed record Entry(IActorRef Connection, string[] Rooms);
}
