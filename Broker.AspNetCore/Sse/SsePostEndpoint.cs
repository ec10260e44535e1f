using System.Buffers;
using Broker.Actors.Auth;
using Broker.AspNetCore.Configuration;
using Broker.AspNetCore.Hosting;
using Broker.AspNetCore.Http;
using Broker.AspNetCore.WebSockets;
using Broker.Contracts.Protocol;
using Microsoft.Extensions.Options;

namespace Broker.AspNetCore.Sse;

/// <summary>
/// <c>POST /sse/{route}/{session}</c>: a client's frames for its SSE session, one envelope or a
/// JSON array of them (PROTOCOL §9.4). 202 once they are queued for the session in order; the
/// replies arrive on the stream. The body's shape is judged here (400); each envelope is then a
/// WebSocket frame to the session's actor, errors included.
/// </summary>
public static class SsePostEndpoint
{
    public static async Task HandleAsync(HttpContext context, string route, string session, IOptions<BrokerOptions> options,
        ITokenValidator validator, SseSessions sessions)
    {
        var broker = options.Value;
        if (!broker.Routes.TryGetValue(route, out var routeOptions))
        {
            await BrokerHttp.Problem(context, StatusCodes.Status404NotFound, $"no route '{route}'", ErrorCodes.NotFound);
            return;
        }
        var origin = context.Request.Headers.Origin.ToString();
        if (!OriginPolicy.IsAllowed(origin, routeOptions.AllowedOrigins, context.Request.Host.Value ?? ""))
        {
            await BrokerHttp.Problem(context, StatusCodes.Status403Forbidden, "origin not allowed");
            return;
        }
        SseCors.AllowOrigin(context, origin);

        // The token first: without one, nobody learns whether a session id exists.
        string? userId = null;
        if (!routeOptions.Anonymous)
        {
            var checkedToken = await validator.ValidateAsync(BrokerHttp.BearerToken(context), context.RequestAborted);
            if (checkedToken.User is null)
            {
                await BrokerHttp.Problem(context, StatusCodes.Status401Unauthorized,
                    ReservedSubjects.RefusalFor(checkedToken.Kind, "Authorization: Bearer <JWT> for the session's user is required"), ErrorCodes.Unauthorized);
                return;
            }
            userId = checkedToken.User.UserId;
        }
        // Another user's session answers as an unknown one: a session id is not for others to confirm.
        var found = sessions.Find(route, session);
        if (found is null || (userId is not null && !string.Equals(found.UserId, userId, StringComparison.Ordinal)))
        {
            await BrokerHttp.Problem(context, StatusCodes.Status404NotFound, "no such session (it ended, or is not yours); open a new stream", ErrorCodes.NotFound);
            return;
        }

        var maxBody = Math.Max(broker.Sse.MaxPostBytes, broker.Limits.MaxMessageBytes);
        var body = await ReadBodyAsync(context.Request, maxBody, context.RequestAborted);
        if (body is null)
        {
            await BrokerHttp.Problem(context, StatusCodes.Status400BadRequest, $"the body is over {maxBody} bytes (Broker:Sse:MaxPostBytes)", ErrorCodes.TooLarge);
            return;
        }
        var split = SsePostBody.Split(body, broker.Limits.MaxMessageBytes, broker.Sse.MaxPostEnvelopes);
        if (split.Envelopes is not { } envelopes)
        {
            await BrokerHttp.Problem(context, StatusCodes.Status400BadRequest, split.Error!, split.Code);
            return;
        }
        if (!await found.Transport.PostAsync(envelopes, context.RequestAborted))
        {
            if (!context.RequestAborted.IsCancellationRequested)
                await BrokerHttp.Problem(context, StatusCodes.Status404NotFound, "the session ended; open a new stream", ErrorCodes.NotFound);
            return;
        }
        context.Response.StatusCode = StatusCodes.Status202Accepted;
        await context.Response.WriteAsJsonAsync(new SsePostAccepted(envelopes.Count), HostJsonContext.Default.SsePostAccepted);
    }

    /// <summary>Answers the preflight of a cross-origin POST, for origins the route allows.</summary>
    public static Task PreflightAsync(HttpContext context, string route, IOptions<BrokerOptions> options)
    {
        var origin = context.Request.Headers.Origin.ToString();
        if (!options.Value.Routes.TryGetValue(route, out var routeOptions)
            || !OriginPolicy.IsAllowed(origin, routeOptions.AllowedOrigins, context.Request.Host.Value ?? ""))
        {
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            return Task.CompletedTask;
        }
        SseCors.AnswerPreflight(context, origin);
        return Task.CompletedTask;
    }

    /// <summary>The whole body, or null when it is over <paramref name="max"/> bytes (read no further than that).</summary>
    private static async Task<byte[]?> ReadBodyAsync(HttpRequest request, int max, CancellationToken aborted)
    {
        if (request.ContentLength > max) return null;
        var buffer = new ArrayBufferWriter<byte>((int)Math.Min(request.ContentLength ?? 4096, max) + 1);
        while (true)
        {
            var memory = buffer.GetMemory(4096);
            var read = await request.Body.ReadAsync(memory, aborted);
            if (read == 0) return buffer.WrittenSpan.ToArray();
            buffer.Advance(read);
            if (buffer.WrittenCount > max) return null;
        }
    }
}
