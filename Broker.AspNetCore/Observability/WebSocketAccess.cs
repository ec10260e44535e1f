using System.Diagnostics;
using System.Net.WebSockets;
using Broker.Actors.Connections;
using Broker.Actors.Observability;
using Broker.AspNetCore.Hosting;
using Broker.AspNetCore.Http;
using ConnectionInfo = Broker.Actors.Connections.ConnectionInfo;

namespace Broker.AspNetCore.Observability;

/// <summary>
/// The WebSocket endpoint's hooks into the access log and metrics: one call when a socket is
/// accepted, one when it is gone, one when the handshake is refused.
/// </summary>
public static class WebSocketAccess
{
    /// <summary>A socket was accepted; returns the timestamp to pass to <see cref="Closed"/>.</summary>
    public static long Connected(BrokerNode node, ConnectionInfo info)
    {
        node.System.EventStream.Publish(new AccessEvents.Connected(
            info.ConnectionId, info.Route.Name, node.NodeName, info.RemoteAddress, info.User?.UserId));
        return Stopwatch.GetTimestamp();
    }

    /// <summary>The socket finished: counts the close and logs the closing event with the transport's counters.</summary>
    public static void Closed(BrokerNode node, ConnectionInfo info, WebSocketTransport transport, WebSocket socket, long started, ILoggerFactory loggers)
    {
        var closed = new AccessEvents.Closed(
            info.ConnectionId, info.Route.Name, node.NodeName, info.RemoteAddress,
            Stopwatch.GetElapsedTime(started), transport.ClosedWith, (int?)socket.CloseStatus,
            transport.FramesIn, transport.BytesIn, transport.FramesOut, transport.BytesOut);
        var alive = !node.System.WhenTerminated.IsCompleted;
        ConnectionTelemetry.Closed(alive ? node.System : null, closed);
        // Late in shutdown the access logger may be gone; the event must not be.
        if (!alive) AccessLogActor.Write(loggers.CreateLogger(AccessLog.Category), closed, info.User?.UserId);
    }

    /// <summary>
    /// An SSE stream ended: logged and counted as a socket close. The client's status is 1000 when
    /// it left on its own (a stream has no close code of its own), none when the broker ended it.
    /// </summary>
    public static void StreamClosed(BrokerNode node, ConnectionInfo info, Sse.SseTransport transport, long started, ILoggerFactory loggers)
    {
        var closed = new AccessEvents.Closed(
            info.ConnectionId, info.Route.Name, node.NodeName, info.RemoteAddress,
            Stopwatch.GetElapsedTime(started), transport.ClosedWith, transport.EndedByPeer ? 1000 : null,
            transport.FramesIn, transport.BytesIn, transport.FramesOut, transport.BytesOut);
        var alive = !node.System.WhenTerminated.IsCompleted;
        ConnectionTelemetry.Closed(alive ? node.System : null, closed);
        if (!alive) AccessLogActor.Write(loggers.CreateLogger(AccessLog.Category), closed, info.User?.UserId);
    }

    /// <summary>The handshake was refused before the upgrade by <c>Broker:Limits:MaxConnectionsPerIp</c>.</summary>
    public static void LimitRefused(HttpContext context, string route, int status, string reason, ILoggerFactory loggers)
    {
        BrokerMetrics.ConnectionLimitRefused(perUser: false);
        AccessLog.HandshakeRefused(loggers.CreateLogger(AccessLog.Category), route,
            BrokerHttp.ClientIp(context), status, reason);
    }

    /// <summary>The handshake was refused before the upgrade (ticket checks).</summary>
    public static void Refused(HttpContext context, string route, int status, string reason, string authFailureReason, ILoggerFactory loggers)
    {
        BrokerMetrics.AuthFailed(authFailureReason);
        AccessLog.HandshakeRefused(loggers.CreateLogger(AccessLog.Category), route,
            BrokerHttp.ClientIp(context), status, reason);
    }
}
