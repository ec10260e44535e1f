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

    /// <summary>Moves <paramref name="delta"/> connections of <paramref name="info"/>'s route into (or out of) a state.</summary>
    public static void Count(ConnectionInfo info, string node, bool authenticated, int delta)
    {
        var tags = new TagList
        {
            { "route", info.Route.Name },
            { "state", authenticated ? AuthenticatedState : Pending },
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
        CloseCodes.SlowConsumer => "4508",
        _ => "other",
    };
}
