using System.Net.WebSockets;
using System.Security.Cryptography;
using Akka.Actor;
using Broker.Actors.Auth;
using Broker.AspNetCore.Configuration;
using Broker.Actors.Connections;
using Broker.Actors.Observability;
using Broker.AspNetCore.Auth;
using Broker.AspNetCore.Hosting;
using Broker.AspNetCore.Http;
using Broker.AspNetCore.Observability;
using Broker.Contracts.Protocol;
using Broker.AspNetCore.WebSockets;
using Microsoft.Extensions.Options;

namespace Broker.AspNetCore.WebSockets;

/// <summary>
/// <c>GET /ws/{route}</c>: every check that can be made before the upgrade is made here (route,
/// upgrade, Origin, connections per IP, ticket), so a refused client gets a plain HTTP status; then the socket is
/// handed to a <see cref="ConnectionActor"/> and this request lives as long as the socket.
/// </summary>
public static class WebSocketEndpoint
{
    public static async Task HandleAsync(
        HttpContext context,
        string route,
        IOptions<BrokerOptions> options,
        BrokerNode node,
        ITicketStore tickets,
        ILoggerFactory loggers,
        TimeProvider clock,
        ClientIpLimiter ipLimiter)
    {
        var broker = options.Value;
        if (!broker.Routes.TryGetValue(route, out var routeOptions))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }
        if (!context.WebSockets.IsWebSocketRequest)
        {
            await BrokerHttp.Problem(context, StatusCodes.Status400BadRequest, "this endpoint only accepts WebSocket upgrades");
            return;
        }
        if (!OriginPolicy.IsAllowed(context.Request.Headers.Origin, routeOptions.AllowedOrigins, context.Request.Host.Value ?? ""))
        {
            await BrokerHttp.Problem(context, StatusCodes.Status403Forbidden, "origin not allowed");
            return;
        }
        if (!node.Started.IsCompleted || node.ShuttingDown)
        {
            await BrokerHttp.Problem(context, StatusCodes.Status503ServiceUnavailable, "node not ready");
            return;
        }

        var clientIp = BrokerHttp.ClientIp(context);
        // Before the ticket: a refused handshake must not burn it. Held until this request (the socket) ends.
        using var ipSlot = ipLimiter.TryAcquire(clientIp);
        if (ipSlot is null)
        {
            await ipLimiter.RefuseAsync(context, route, loggers);
            return;
        }
        AuthenticatedUser? user = null;
        var ticket = context.Request.Query["ticket"].ToString();
        if (ticket.Length > 0)
        {
            TicketRedemption? redeemed;
            try
            {
                // No length guard here: the store refuses a ticket it did not issue before any lookup (TicketCodec).
                redeemed = await tickets.RedeemAsync(ticket, clientIp);
            }
            catch (Akka.Actor.AskTimeoutException)
            {
                await BrokerHttp.RetryLater(context, "the ticket ledger is moving to another node; retry");
                return;
            }
            if (redeemed is null)
            {
                WebSocketAccess.Refused(context, route, StatusCodes.Status401Unauthorized, "bad ticket", AuthFailureReasons.Ticket, loggers);
                await BrokerHttp.Problem(context, StatusCodes.Status401Unauthorized, "invalid, expired or already used ticket");
                return;
            }
            user = redeemed.User;
        }
        else if (routeOptions.RequireTicket && !routeOptions.Anonymous)
        {
            WebSocketAccess.Refused(context, route, StatusCodes.Status401Unauthorized, "ticket required", AuthFailureReasons.TicketRequired, loggers);
            await BrokerHttp.Problem(context, StatusCodes.Status401Unauthorized, "this route requires a ticket (POST /auth/ticket)");
            return;
        }

        using var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext
        {
            DangerousEnableCompression = routeOptions.Compression,
            // Per-message contexts cost memory per connection; keep the server side stateless.
            DisableServerContextTakeover = true,
            // Heartbeat is ours (PROTOCOL §5); the protocol-level keep-alive would double it.
            KeepAliveInterval = TimeSpan.Zero,
        });

        var limits = broker.Limits;
        var info = new Broker.Actors.Connections.ConnectionInfo(
            NewConnectionId(),
            new RoutePolicy(route.ToLowerInvariant(), routeOptions.Anonymous, routeOptions.AllowPublish, routeOptions.AllowBroadcast),
            clientIp,
            user);
        // Shared by the transport (a pong is seen there and goes no further), the actor and the supervisor's tick.
        var heartbeat = new ConnectionHeartbeat();
        var transport = new WebSocketTransport(socket, new TransportLimits(
                limits.MaxMessageBytes, limits.RatePerSecond, limits.RateBurst, limits.OutboundQueue, limits.CloseGrace, limits.WriteBatchFrames,
                limits.OutboundQueueBytes),
            clock,
            // Null cork when the upgrade did not go through the wrapper (HTTP/2, UseWebSockets called by the app first).
            new TransportContext(info.ConnectionId, info.Route.Name, CorkedUpgrade.StreamOf(context), loggers.CreateLogger(WebSocketTransport.LogCategory),
                heartbeat, Compressed: routeOptions.Compression));

        node.Track(info.ConnectionId, transport);
        try
        {
            var started = WebSocketAccess.Connected(node, info);
            var accepted = false;
            try
            {
                await node.Connections.Ask<IActorRef>(new ConnectionMessages.Accept(info, transport, heartbeat), limits.AskTimeout);
                accepted = true;
            }
            catch (Exception e)
            {
                loggers.CreateLogger(typeof(WebSocketEndpoint)).LogError(e, "Could not start connection {ConnectionId}", info.ConnectionId);
                // No actor started the transport, so its Completion would never come: close the
                // socket here, so the client learns why, the request ends and the socket is untracked.
                var close = node.ShuttingDown ? Close.ShuttingDown : Close.Internal;
                transport.Close(close); // records the close for the access log and metrics
                await CloseUnstartedAsync(socket, close, limits.CloseGrace, context.RequestAborted);
            }

            if (accepted)
                await using (context.RequestAborted.Register(transport.Abort))
                    await transport.Completion;
            WebSocketAccess.Closed(node, info, transport, socket, started, loggers);
        }
        finally
        {
            node.Untrack(info.ConnectionId);
        }
    }

    /// <summary>A close handshake on a socket no transport loop runs on, bounded like the transport's own.</summary>
    private static async Task CloseUnstartedAsync(WebSocket socket, Close close, TimeSpan closeGrace, CancellationToken aborted)
    {
        using var grace = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        grace.CancelAfter(closeGrace);
        try
        {
            await socket.CloseAsync((WebSocketCloseStatus)close.Code, close.Reason, grace.Token);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            socket.Abort(); // the peer did not answer in time, or is gone
        }
    }

    private static string NewConnectionId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
}
