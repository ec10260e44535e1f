using Akka.Actor;
using Broker.Actors.Observability;
using Broker.Contracts.Protocol;

namespace Broker.Host.Observability;

/// <summary>
/// Writes the node's <see cref="AccessEvents"/> to <see cref="AccessLog"/>. One per node, subscribed
/// to the event stream, so every event of a connection is written in the order it happened and
/// the close event can name the user that authenticated earlier.
/// </summary>
public sealed class AccessLogActor : ReceiveActor
{
    private readonly ILogger _logger;
    private readonly Dictionary<string, string> _users = new(StringComparer.Ordinal);

    public AccessLogActor(ILogger logger)
    {
        _logger = logger;
        Receive<AccessEvents.Connected>(e =>
        {
            if (e.UserId is not null) _users[e.ConnectionId] = e.UserId;
            AccessLog.Connected(_logger, e.ConnectionId, e.Route, e.Node, e.RemoteAddress, e.UserId);
        });
        Receive<AccessEvents.Authenticated>(e =>
        {
            _users[e.ConnectionId] = e.UserId;
            AccessLog.Authenticated(_logger, e.ConnectionId, e.UserId, e.Route, e.Method);
        });
        Receive<AccessEvents.AuthFailed>(e => AccessLog.AuthFailed(_logger, e.ConnectionId, e.Route, e.RemoteAddress, e.Reason, e.Detail));
        Receive<AccessEvents.Joined>(e => AccessLog.Joined(_logger, e.ConnectionId, e.UserId, e.Room));
        Receive<AccessEvents.Left>(e => AccessLog.Left(_logger, e.ConnectionId, e.UserId, e.Room));
        Receive<AccessEvents.Closed>(e =>
        {
            _users.Remove(e.ConnectionId, out var user);
            Write(_logger, e, user);
        });
    }

    public static Props Props(ILogger logger) => Akka.Actor.Props.Create(() => new AccessLogActor(logger));

    protected override void PreStart() => Context.System.EventStream.Subscribe(Self, typeof(AccessEvents.IAccessEvent));

    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);

    /// <summary>Writes a close event; also used directly when the actor system is already gone.</summary>
    internal static void Write(ILogger logger, AccessEvents.Closed e, string? user)
    {
        var level = e.CloseCode is CloseCodes.Normal or CloseCodes.GoingAway ? LogLevel.Information : LogLevel.Warning;
        AccessLog.Closed(logger, level, e.ConnectionId, user, e.Route, e.Node, e.RemoteAddress, (long)e.Duration.TotalMilliseconds,
            e.CloseCode, e.CloseReason.Length == 0 ? "normal" : e.CloseReason, e.ClientCloseStatus,
            e.FramesIn, e.BytesIn, e.FramesOut, e.BytesOut);
    }
}
