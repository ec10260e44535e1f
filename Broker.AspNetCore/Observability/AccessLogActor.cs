using Akka.Actor;
using Broker.Actors.Observability;
using Broker.Contracts.Protocol;

namespace Broker.AspNetCore.Observability;

/// <summary>
/// Writes the node's <see cref="AccessEvents"/> to <see cref="AccessLog"/>. One per node, subscribed
/// to the event stream, so every event of a connection is written in the order it happened and
/// the close event can name the user that authenticated earlier. Events reach it through an
/// <see cref="AccessLogGate"/>, which bounds how many may wait; each one written frees its place.
/// </summary>
public sealed class AccessLogActor : ReceiveActor
{
    private readonly ILogger _logger;
    private readonly AccessLogBacklog? _backlog;
    private readonly Dictionary<string, string> _users = new(StringComparer.Ordinal);

    public AccessLogActor(ILogger logger, AccessLogBacklog? backlog = null)
    {
        _logger = logger;
        _backlog = backlog;
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

    public static Props Props(ILogger logger, AccessLogBacklog? backlog = null) => Akka.Actor.Props.Create(() => new AccessLogActor(logger, backlog));

    protected override bool AroundReceive(Receive receive, object message)
    {
        try
        {
            return base.AroundReceive(receive, message);
        }
        finally
        {
            // Written (or failed to write: a broken sink must not close the gate for good).
            if (message is AccessEvents.IAccessEvent) _backlog?.Written();
        }
    }


    /// <summary>Writes a close event; also used directly when the actor system is already gone.</summary>
    internal static void Write(ILogger logger, AccessEvents.Closed e, string? user)
    {
        var level = e.Close.Code is CloseCodes.Normal or CloseCodes.GoingAway ? LogLevel.Information : LogLevel.Warning;
        AccessLog.Closed(logger, level, e.ConnectionId, user, e.Route, e.Node, e.RemoteAddress, (long)e.Duration.TotalMilliseconds,
            e.Close.Code, e.Close.Reason.Length == 0 ? e.Close.Tag : e.Close.Reason, e.ClientCloseStatus,
            e.FramesIn, e.BytesIn, e.FramesOut, e.BytesOut);
    }
}
