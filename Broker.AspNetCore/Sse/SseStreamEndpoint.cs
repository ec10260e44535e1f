using System.Security.Cryptography;
using Akka.Actor;
using Broker.Actors.Auth;
using Broker.Actors.Connections;
using Broker.Actors.Observability;
using Broker.AspNetCore.Auth;
using Broker.AspNetCore.Configuration;
using Broker.AspNetCore.Hosting;
using Broker.AspNetCore.Http;
using Broker.AspNetCore.Observability;
using Broker.AspNetCore.WebSockets;
using Broker.Contracts.Protocol;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace Broker.AspNetCore.Sse;

/// <summary>
/// <c>GET /sse/{route}</c>: the WebSocket endpoint's checks in the same order (route, then what the
/// request asks for, Origin, readiness, connections per IP, credentials), each refusal a plain HTTP
/// status with the error body; then the response becomes the session's event stream, behind a
/// <see cref="ConnectionActor"/> like any socket, and this request lives as long as the session.
/// Credentials are checked here, so the user is known when the stream starts: no first-message auth.
/// </summary>
public static class SseStreamEndpoint
{
    public static async Task HandleAsync(
        HttpContext context,
        string route,
        IOptions<BrokerOptions> options,
        BrokerNode node,
        ITicketStore tickets,
        ITokenValidator validator,
        SseSessions sessions,
        ILoggerFactory loggers,
        TimeProvider clock,
        ClientIpLimiter ipLimiter)
    {
        var broker = options.Value;
        if (!broker.Routes.TryGetValue(route, out var routeOptions))
        {
            await BrokerHttp.Problem(context, StatusCodes.Status404NotFound, $"no route '{route}'", ErrorCodes.NotFound);
            return;
        }
        if (!AcceptsEventStream(context.Request))
        {
            await BrokerHttp.Problem(context, StatusCodes.Status406NotAcceptable,
                $"this endpoint serves only {SseEvents.MediaType}; send Accept: {SseEvents.MediaType}");
            return;
        }
        var origin = context.Request.Headers.Origin.ToString();
        if (!OriginPolicy.IsAllowed(origin, routeOptions.AllowedOrigins, context.Request.Host.Value ?? ""))
        {
            await BrokerHttp.Problem(context, StatusCodes.Status403Forbidden, "origin not allowed");
            return;
        }
        SseCors.AllowOrigin(context, origin);
        // Before anything is spent (an IP slot, a ticket): a bad request must not burn the ticket.
        var rooms = SseInitialRooms.Parse(context.Request.Query["rooms"], broker.Limits.MaxRoomsPerConnection);
        if (rooms is null)
        {
            await BrokerHttp.Problem(context, StatusCodes.Status400BadRequest,
                $"?rooms= names more than {broker.Limits.MaxRoomsPerConnection} rooms (Broker:Limits:MaxRoomsPerConnection)", ErrorCodes.BadRequest);
            return;
        }
        if (!node.Started.IsCompleted || node.ShuttingDown)
        {
            await BrokerHttp.Problem(context, StatusCodes.Status503ServiceUnavailable, "node not ready");
            return;
        }

        var clientIp = BrokerHttp.ClientIp(context);
        // Streams count against the same per-IP cap as sockets, held until this request ends.
        using var ipSlot = ipLimiter.TryAcquire(clientIp);
        if (ipSlot is null)
        {
            await ipLimiter.RefuseAsync(context, route, loggers);
            return;
        }

        var (authenticated, user) = await AuthenticateAsync(context, route, routeOptions, tickets, validator, clientIp, loggers);
        if (!authenticated) return; // refused, and answered

        var limits = broker.Limits;
        var sessionId = SseSessions.NewId();
        var info = new Broker.Actors.Connections.ConnectionInfo(
            Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)),
            new RoutePolicy(route.ToLowerInvariant(), routeOptions.Anonymous, routeOptions.AllowPublish, routeOptions.AllowBroadcast),
            clientIp,
            user,
            sessionId);
        var transport = new SseTransport(context.Response.BodyWriter, context.Abort,
            new TransportLimits(limits.MaxMessageBytes, limits.RatePerSecond, limits.RateBurst, limits.OutboundQueue, limits.CloseGrace,
                limits.WriteBatchFrames, limits.OutboundQueueBytes),
            clock, info.Route.Name,
            // Receive-only: a plain EventSource is the expected client and cannot answer pings (PROTOCOL §9.4).
            writesProveLife: !routeOptions.AllowPublish,
            inboundCapacity: Math.Max(InboundQueue, rooms.Count));
        for (var i = 0; i < rooms.Count; i++) transport.TryQueueInitial(SseInitialRooms.JoinEnvelope(rooms[i], i));

        var response = context.Response;
        response.ContentType = SseEvents.MediaType;
        response.Headers.CacheControl = "no-cache";
        // nginx buffers proxied responses unless told not to; this header tells it per response (docs/sse.md).
        response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();

        // On an anonymous route the actor names the user after the connection id; the session records the same name.
        var sessionUser = user?.UserId ?? ReservedSubjects.AnonymousPrefix + info.ConnectionId;
        sessions.Add(sessionId, new SseSession(route, sessionUser, transport));
        node.Track(info.ConnectionId, transport);
        try
        {
            var started = WebSocketAccess.Connected(node, info);
            try
            {
                await node.Connections.Ask<IActorRef>(new ConnectionMessages.Accept(info, transport), limits.AskTimeout);
            }
            catch (Exception e)
            {
                loggers.CreateLogger(typeof(SseStreamEndpoint)).LogError(e, "Could not start SSE session {ConnectionId}", info.ConnectionId);
                transport.Close(node.ShuttingDown ? Close.ShuttingDown : Close.Internal); // recorded for the access log
                WebSocketAccess.StreamClosed(node, info, transport, started, loggers);
                // Nothing written yet (the transport never started): the client gets a status, not a stream.
                if (!response.HasStarted)
                    await BrokerHttp.Problem(context, StatusCodes.Status503ServiceUnavailable, "could not start the session; retry", ErrorCodes.Unavailable);
                return;
            }
            await using (context.RequestAborted.Register(transport.Abort))
                await transport.Completion;
            WebSocketAccess.StreamClosed(node, info, transport, started, loggers);
        }
        finally
        {
            sessions.Remove(sessionId);
            node.Untrack(info.ConnectionId);
        }
    }

    /// <summary>Envelopes queued for a session's actor before its POSTs wait.</summary>
    private const int InboundQueue = 64;

    /// <summary>
    /// The stream's user: a ticket's, a bearer token's, or null on an anonymous route (the actor
    /// names it). A refusal is answered here (401 with the error body) and is not <c>Ok</c>.
    /// </summary>
    private static async Task<(bool Ok, AuthenticatedUser? User)> AuthenticateAsync(HttpContext context, string route, Configuration.RouteOptions routeOptions,
        ITicketStore tickets, ITokenValidator validator, string clientIp, ILoggerFactory loggers)
    {
        var ticket = context.Request.Query["ticket"].ToString();
        if (ticket.Length > 0)
        {
            TicketRedemption? redeemed;
            try
            {
                redeemed = await tickets.RedeemAsync(ticket, clientIp);
            }
            catch (AskTimeoutException)
            {
                await BrokerHttp.RetryLater(context, "the ticket ledger is moving to another node; retry");
                return (false, null);
            }
            if (redeemed is null)
            {
                WebSocketAccess.Refused(context, route, StatusCodes.Status401Unauthorized, "bad ticket", AuthFailureReasons.Ticket, loggers);
                await BrokerHttp.Problem(context, StatusCodes.Status401Unauthorized, "invalid, expired or already used ticket", ErrorCodes.Unauthorized);
                return (false, null);
            }
            return (true, redeemed.User);
        }
        if (routeOptions.Anonymous) return (true, null);
        if (routeOptions.RequireTicket)
        {
            WebSocketAccess.Refused(context, route, StatusCodes.Status401Unauthorized, "ticket required", AuthFailureReasons.TicketRequired, loggers);
            await BrokerHttp.Problem(context, StatusCodes.Status401Unauthorized, "this route requires a ticket (POST /auth/ticket)", ErrorCodes.Unauthorized);
            return (false, null);
        }
        var checkedToken = await validator.ValidateAsync(BrokerHttp.BearerToken(context), context.RequestAborted);
        if (checkedToken.User is { } user) return (true, user);
        WebSocketAccess.Refused(context, route, StatusCodes.Status401Unauthorized, "bad token", AuthFailureReasons.For(checkedToken.Kind), loggers);
        await BrokerHttp.Problem(context, StatusCodes.Status401Unauthorized,
            ReservedSubjects.RefusalFor(checkedToken.Kind, "a ticket (?ticket=) or Authorization: Bearer <JWT> is required"), ErrorCodes.Unauthorized);
        return (false, null);
    }

    /// <summary>Whether <c>Accept</c> names <c>text/event-stream</c> (a browser's <c>EventSource</c> always does; <c>*/*</c> is not enough, docs/sse.md).</summary>
    private static bool AcceptsEventStream(HttpRequest request)
    {
        foreach (var value in request.Headers.Accept)
        {
            if (value is null) continue;
            foreach (var part in value.Split(','))
            {
                var mediaType = part.Split(';')[0].Trim();
                if (string.Equals(mediaType, SseEvents.MediaType, StringComparison.OrdinalIgnoreCase)) return true;
            }
        }
        return false;
    }
}
