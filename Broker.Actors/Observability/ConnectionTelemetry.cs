using System.Diagnostics;
using Akka.Actor;
using Broker.Actors.Connections;
using Broker.Contracts.Protocol;

namespace Broker.Actors.Observability;

/// <summary>
/// One-line hooks for the connection tier: each records the metric and publishes the access-log
/// event, so the actors stay about moving messages. Per-connection events only; per-frame work is
/// in <see cref="BrokerMetrics"/>.
/// </summary>
public static class ConnectionTelemetry
{
    /// <summary>The <c>state</c> tag of <c>broker_connections</c> before authentication.</summary>
    public const string Pending = "pending";
    /// <summary>The <c>state</c> tag of <c>broker_connections</c> once authenticated.</summary>
    public const string AuthenticatedState = "authenticated";

    /// <summary>The state a connection is counted in by <c>broker_connections</c>; its owner keeps it and hands it back.</summary>
    public enum GaugeState
    {
        /// <summary>Counted under <c>state="pending"</c>.</summary>
        Pending,
        /// <summary>Counted under <c>state="authenticated"</c>.</summary>
        Authenticated,
    }

    /// <summary>A connection was accepted: counted pending, whatever way it will authenticate.</summary>
    public static GaugeState CountOpened(ConnectionInfo info, string node)
    {
        Count(info, node, GaugeState.Pending, +1);
        return GaugeState.Pending;
    }

    /// <summary>
    /// The connection authenticated: moved from pending to authenticated the first time; a
    /// connection already counted authenticated stays where it is, so the move happens once.
    /// </summary>
    public static GaugeState CountAuthenticated(ConnectionInfo info, string node, GaugeState counted)
    {
        if (counted == GaugeState.Authenticated) return counted;
        Count(info, node, GaugeState.Pending, -1);
        Count(info, node, GaugeState.Authenticated, +1);
        return GaugeState.Authenticated;
    }

    /// <summary>The connection is gone: removed from the state it was counted in, once (its owner forgets it).</summary>
    public static void CountClosed(ConnectionInfo info, string node, GaugeState counted) => Count(info, node, counted, -1);

    private static void Count(ConnectionInfo info, string node, GaugeState state, int delta)
    {
        var tags = new TagList
        {
            { "route", info.Route.Name },
            { "state", state == GaugeState.Authenticated ? AuthenticatedState : Pending },
            { "node", node },
        };
        BrokerMetrics.Connections.Add(delta, tags);
    }

    /// <summary>The connection authenticated as <paramref name="userId"/>.</summary>
    public static void Authenticated(ActorSystem system, ConnectionInfo info, string userId) =>
        system.EventStream.Publish(new AccessEvents.Authenticated(info.ConnectionId, info.Route.Name, userId,
            info.User is not null ? "ticket" : info.Route.Anonymous ? "anonymous" : "token"));

    /// <summary>Authentication refused or ended; <paramref name="reason"/> is one of <see cref="AuthFailureReasons"/>.</summary>
    public static void AuthFailed(ActorSystem system, ConnectionInfo info, string reason, string? detail)
    {
        BrokerMetrics.AuthFailed(reason);
        system.EventStream.Publish(new AccessEvents.AuthFailed(info.ConnectionId, info.Route.Name, info.RemoteAddress, reason, detail));
    }

    /// <summary>The connection asked to join <paramref name="room"/>.</summary>
    public static void Joined(ActorSystem system, ConnectionInfo info, string userId, string room) =>
        system.EventStream.Publish(new AccessEvents.Joined(info.ConnectionId, userId, room));

    /// <summary>The connection left <paramref name="room"/>.</summary>
    public static void Left(ActorSystem system, ConnectionInfo info, string userId, string room) =>
        system.EventStream.Publish(new AccessEvents.Left(info.ConnectionId, userId, room));

    /// <summary>A silent connection was terminated by the heartbeat.</summary>
    public static void HeartbeatTerminated() => BrokerMetrics.HeartbeatTerminations.Add(1);

    /// <summary>A connection was cut off because its outbound queue was full.</summary>
    public static void SlowConsumer() => BrokerMetrics.SlowConsumerCloses.Add(1);

    /// <summary>
    /// The socket finished: counts the close by route and the close's code and reason tags (from
    /// the <see cref="Close"/> catalogue, so a fixed set), and publishes the closing access-log
    /// event when the actor system is still there to take it.
    /// </summary>
    public static void Closed(ActorSystem? system, AccessEvents.Closed closed)
    {
        BrokerMetrics.ConnectionsClosed.Add(1, new TagList
        {
            { "route", closed.Route },
            { "code", closed.Close.CodeTag },
            { "reason", closed.Close.Tag },
        });
        system?.EventStream.Publish(closed);
    }
}
