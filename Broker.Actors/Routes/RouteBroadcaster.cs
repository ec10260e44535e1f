using Akka.Actor;
using Broker.Actors.Observability;
using Broker.Contracts.Cluster;
using Broker.Contracts.Protocol;
using static Broker.Contracts.Cluster.ConnectionCommands;

namespace Broker.Actors.Routes;

/// <summary>
/// Route-wide broadcast on one node: which connections each route has here, and each route's
/// offset, numbered by this node alone. A plain class owned by the node's
/// <see cref="Connections.ConnectionSupervisor"/>, which is the single writer of the tables (it
/// accepts and buries the connections) and hands the route messages to it.
/// </summary>
public sealed class RouteBroadcaster
{
    private readonly Dictionary<string, HashSet<IActorRef>> _byRoute = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, long> _offsets = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>A connection of <paramref name="route"/> was accepted on this node.</summary>
    public void Add(string route, IActorRef connection)
    {
        if (!_byRoute.TryGetValue(route, out var members)) _byRoute[route] = members = new HashSet<IActorRef>();
        members.Add(connection);
    }

    /// <summary>A connection of <paramref name="route"/> stopped.</summary>
    public void Remove(string route, IActorRef connection)
    {
        if (!_byRoute.TryGetValue(route, out var members)) return;
        members.Remove(connection);
        if (members.Count == 0) _byRoute.Remove(route);
    }

    /// <summary>Connections per route on this node (for stats).</summary>
    public Dictionary<string, int> Counts() => _byRoute.ToDictionary(kv => kv.Key, kv => kv.Value.Count);

    /// <summary>
    /// A server-side broadcast: delivered here, then sent once to every other Up member's
    /// supervisor at <paramref name="self"/>'s path. Returns this node's offset.
    /// </summary>
    public long PublishToCluster(ActorSystem system, IActorRef self, string route, string from, byte[] payload)
    {
        var offset = Deliver(route, from, payload, exclude: null);
        // One message per other node, whether or not it has connections on the route: asking first
        // would cost a round trip, and a node with nobody there drops it at once.
        if (((ExtendedActorSystem)system).Provider is not Akka.Cluster.ClusterActorRefProvider) return offset;
        var cluster = Akka.Cluster.Cluster.Get(system);
        var toPeers = new RouteCommands.DeliverToRoute(route, from, payload);
        foreach (var member in cluster.State.Members)
        {
            if (member.Address == cluster.SelfAddress || member.Status is not (Akka.Cluster.MemberStatus.Up or Akka.Cluster.MemberStatus.WeaklyUp))
                continue;
            system.ActorSelection(new RootActorPath(member.Address) / self.Path.Elements).Tell(toPeers, self);
        }
        return offset;
    }

    /// <summary>Delivers to this node's connections of <paramref name="route"/>; returns the route offset (unchanged when nobody is there).</summary>
    public long Deliver(string route, string from, byte[] payload, IActorRef? exclude)
    {
        // Nobody on the route here: nothing delivered, no offset used.
        if (!_byRoute.TryGetValue(route, out var members)) return _offsets.GetValueOrDefault(route);
        var offset = _offsets[route] = _offsets.GetValueOrDefault(route) + 1;
        // Serialized once; every member gets the same array.
        var frame = ServerFrames.Message(null, offset, null, from, payload);
        var deliver = new Deliver(frame, BrokerMetrics.FanOutStamp(frame, route: true));
        BrokerMetrics.RoutePublished();
        foreach (var member in members)
        {
            if (member.Equals(exclude)) continue;
            member.Tell(deliver);
        }
        return offset;
    }
}
