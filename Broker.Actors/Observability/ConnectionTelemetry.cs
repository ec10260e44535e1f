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
    /// The socket finished: counts the close by route, code and reason (reasons from
    /// <see cref="CloseCodes.Reasons"/> only, anything else is <c>other</c>), and publishes the
    /// closing access-log event when the actor system is still there to take it.
    /// </summary>
    public static void Closed(ActorSystem? system, AccessEvents.Closed closed)
    {
        BrokerMetrics.ConnectionsClosed.Add(1, new TagList
        {
            { "route", closed.Route },
            { "code", CodeTag(closed.CloseCode) },
            { "reason", ReasonTag(closed.CloseReason) },
        });
        system?.EventStream.Publish(closed);
    }

    /// <summary>A low-cardinality tag for a close reason.</summary>
    public static string ReasonTag(string reason) => reason switch
    {
        "" => "normal",
        CloseCodes.Reasons.AuthTimeout => "auth_timeout",
        CloseCodes.Reasons.Unauthorized => "unauthorized",
        CloseCodes.Reasons.TokenExpired => "token_expired",
        CloseCodes.Reasons.SlowConsumer => "slow_consumer",
        CloseCodes.Reasons.HeartbeatTimeout => "heartbeat_timeout",
        CloseCodes.Reasons.TooBig => "too_big",
        CloseCodes.Reasons.InvalidUtf8 => "invalid_utf8",
        CloseCodes.Reasons.RateLimit => "rate_limit",
        CloseCodes.Reasons.ShuttingDown => "shutting_down",
        CloseCodes.Reasons.Internal => "internal",
        CloseCodes.Reasons.TooManyConnections => "too_many_connections",
        // The operator's disconnect (POST /api/users/{user}/disconnect), with 4500 or 4403.
        CloseCodes.Reasons.Disconnected => "disconnected",
        _ => "other",
    };

    private static string CodeTag(int code) => code switch
    {
        CloseCodes.Normal => "1000",
        CloseCodes.GoingAway => "1001",
        CloseCodes.InvalidPayload => "1007",
        CloseCodes.Policy => "1008",
        CloseCodes.TooBig => "1009",
        CloseCodes.Internal => "1011",
        CloseCodes.Unauthorized => "4401",
        CloseCodes.Forbidden => "4403",
        CloseCodes.Disconnected => "4500",
        CloseCodes.SlowConsumer => "4508",
        _ => "other",
    };
}
