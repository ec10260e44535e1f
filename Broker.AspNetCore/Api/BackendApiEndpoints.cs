using System.Text.Json;
using Akka.Actor;
using Broker.AspNetCore.Configuration;
using Broker.AspNetCore.Embedding;
using Broker.AspNetCore.Hosting;
using Broker.AspNetCore.Http;
using Broker.Contracts.Cluster;
using Broker.Contracts.Protocol;
using Microsoft.Extensions.Options;

namespace Broker.AspNetCore.Api;

/// <summary>
/// The back-end HTTP API (PROTOCOL §1): publish to a room or a user, room presence, user status;
/// and, beyond the contract, disconnecting a user (docs/protocol-notes.md). Authorization and the
/// request's shape are checked here; the work is <see cref="IBrokerPublisher"/>'s.
/// </summary>
public static class BackendApiEndpoints
{
    public static IEndpointRouteBuilder MapBackendApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api").AddEndpointFilter(UnavailableWhenUnanswered);
        api.MapPost("/publish", PublishAsync);
        api.MapGet("/rooms/{room}", GetRoomAsync);
        api.MapGet("/users/{user}", GetUserAsync);
        api.MapPost("/users/{user}/disconnect", DisconnectUserAsync);
        return app;
    }

    /// <summary>
    /// A room or user entry that does not answer in time is on a node that is gone or moving
    /// (PROTOCOL §9.1): 503 with code <c>unavailable</c> and a Retry-After, not a 500.
    /// </summary>
    private static async ValueTask<object?> UnavailableWhenUnanswered(EndpointFilterInvocationContext invocation, EndpointFilterDelegate next)
    {
        try
        {
            return await next(invocation);
        }
        catch (Embedding.BrokerUnavailableException unavailable)
        {
            var context = invocation.HttpContext;
            if (context.Response.HasStarted) throw;
            await BrokerHttp.RetryLater(context, unavailable.Message, ErrorCodes.Unavailable);
            return Results.Empty; // already written: nothing more to write (null would be written as JSON)
        }
        catch (AskTimeoutException)
        {
            var context = invocation.HttpContext;
            if (context.Response.HasStarted) throw;
            await BrokerHttp.RetryLater(context, "the room or user is moving to another node; retry", ErrorCodes.Unavailable);
            return Results.Empty; // already written: nothing more to write (null would be written as JSON)
        }
    }

    private static async Task PublishAsync(HttpContext context, ApiAuthorization auth, IBrokerPublisher publisher, IOptions<BrokerOptions> options)
    {
        var (refusal, caller) = await auth.AuthorizeAsync(context);
        if (refusal is { } status)
        {
            await Refuse(context, status);
            return;
        }
        var body = await ReadBodyAsync(context, options.Value.Limits.MaxMessageBytes);
        if (body is null)
        {
            await BrokerHttp.Problem(context, 400, $"body must be JSON of at most {options.Value.Limits.MaxMessageBytes} bytes");
            return;
        }
        ApiPublishRequest? request;
        try { request = JsonSerializer.Deserialize(body, HostJsonContext.Default.ApiPublishRequest); }
        catch (JsonException) { request = null; }
        if (request is null || request.Payload.ValueKind == JsonValueKind.Undefined || (request.Room is null) == (request.User is null))
        {
            await BrokerHttp.Problem(context, 400, "body must be {\"room\":\"r\",\"payload\":…} or {\"user\":\"u\",\"payload\":…}");
            return;
        }
        if (request.Room is { } room)
        {
            if (await BadRoom(context, room)) return;
            if (request.IdempotencyKey is { } key && !FrameParser.IsValidIdempotencyKey(key))
            {
                await BrokerHttp.Problem(context, 400, $"idempotencyKey must be a string of 1 to {FrameParser.MaxIdempotencyKeyLength} characters");
                return;
            }
            var accepted = request.IdempotencyKey is { } idempotencyKey
                ? await publisher.PublishToRoomOnceAsync(room, request.Payload, idempotencyKey, caller, context.RequestAborted)
                : await publisher.PublishToRoomWithEpochAsync(room, request.Payload, caller, context.RequestAborted);
            context.Response.StatusCode = StatusCodes.Status202Accepted;
            await context.Response.WriteAsJsonAsync(accepted, HostJsonContext.Default.RoomPublished);
            return;
        }
        if (await BadUser(context, request.User!)) return;
        var delivered = await publisher.SendToUserAsync(request.User!, request.Payload, caller, context.RequestAborted);
        context.Response.StatusCode = StatusCodes.Status202Accepted;
        await context.Response.WriteAsJsonAsync(new ApiSendAccepted(delivered), HostJsonContext.Default.ApiSendAccepted);
    }

    private static async Task GetRoomAsync(HttpContext context, string room, ApiAuthorization auth, IBrokerPublisher publisher)
    {
        if (await Refused(context, auth) || await BadRoom(context, room)) return;
        var query = context.Request.Query;
        var limit = RoomCommands.GetRoomInfo.DefaultLimit;
        if (query.TryGetValue("limit", out var limitText)
            && (limitText.Count != 1 || !int.TryParse(limitText[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out limit)
                || limit is < 1 or > RoomCommands.GetRoomInfo.MaxLimit))
        {
            await BrokerHttp.Problem(context, 400, "limit must be a whole number from 1 to 1000", ErrorCodes.BadRequest);
            return;
        }
        string? cursor = null;
        if (query.TryGetValue("cursor", out var cursorText))
        {
            cursor = cursorText.Count == 1 ? cursorText[0] : null;
            if (cursor is null || !RoomMembersCursor.TryDecode(cursor, out _))
            {
                await BrokerHttp.Problem(context, 400, "cursor must be the 'next' of a previous page", ErrorCodes.BadRequest);
                return;
            }
        }
        await context.Response.WriteAsJsonAsync(await publisher.GetRoomAsync(room, limit, cursor, context.RequestAborted), HostJsonContext.Default.RoomPresence);
    }

    private static async Task GetUserAsync(HttpContext context, string user, ApiAuthorization auth, IBrokerPublisher publisher)
    {
        if (await Refused(context, auth) || await BadUser(context, user)) return;
        await context.Response.WriteAsJsonAsync(await publisher.GetUserAsync(user, context.RequestAborted), HostJsonContext.Default.UserPresence);
    }

    private static async Task DisconnectUserAsync(HttpContext context, string user, ApiAuthorization auth, IBrokerPublisher publisher)
    {
        if (await Refused(context, auth)) return;
        await DisconnectAuthorizedAsync(context, user, publisher);
    }

    /// <summary>
    /// The disconnect once the caller is authorized (also the console's <c>POST /admin/users/{user}/disconnect</c>):
    /// 400 for a bad user or body, else 202 <c>{"disconnected":n}</c>.
    /// </summary>
    internal static async Task DisconnectAuthorizedAsync(HttpContext context, string user, IBrokerPublisher publisher)
    {
        if (await BadUser(context, user)) return;
        var body = await ReadBodyAsync(context, 1024); // null when larger: refused below
        ApiDisconnectRequest? request;
        try { request = body is [] ? new ApiDisconnectRequest() : body is null ? null : JsonSerializer.Deserialize(body, HostJsonContext.Default.ApiDisconnectRequest); }
        catch (JsonException) { request = null; }
        if (request is null)
        {
            await BrokerHttp.Problem(context, 400, "body must be empty or {\"reconnect\":true|false}");
            return;
        }
        var disconnected = await publisher.DisconnectUserAsync(user, request.Reconnect, context.RequestAborted);
        context.Response.StatusCode = StatusCodes.Status202Accepted;
        await context.Response.WriteAsJsonAsync(new ApiDisconnectAccepted(disconnected), HostJsonContext.Default.ApiDisconnectAccepted);
    }

    /// <summary>Answers 400 for a room name that is not one (the publisher would throw).</summary>
    private static async Task<bool> BadRoom(HttpContext context, string room)
    {
        if (FrameParser.RoomError(room) is not { } error) return false;
        await BrokerHttp.Problem(context, 400, error);
        return true;
    }

    /// <summary>Answers 400 for a user id that is empty or longer than <see cref="FrameParser.MaxUserLength"/>.</summary>
    internal static async Task<bool> BadUser(HttpContext context, string user)
    {
        if (user.Length is > 0 and <= FrameParser.MaxUserLength) return false;
        await BrokerHttp.Problem(context, 400, "user must be 1 to 256 characters");
        return true;
    }

    private static async Task<bool> Refused(HttpContext context, ApiAuthorization auth)
    {
        var (refusal, _) = await auth.AuthorizeAsync(context);
        if (refusal is not { } status) return false;
        await Refuse(context, status);
        return true;
    }

    private static Task Refuse(HttpContext context, int status) =>
        BrokerHttp.Problem(context, status, status == 401 ? "missing or invalid credentials" : $"token lacks scope {ApiAuthorization.PublishScope}");

    /// <summary>The body, or null when it is larger than <paramref name="max"/> bytes.</summary>
    private static async Task<byte[]?> ReadBodyAsync(HttpContext context, int max)
    {
        if (context.Request.ContentLength > max) return null;
        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await context.Request.Body.ReadAsync(chunk, context.RequestAborted)) > 0)
        {
            if (buffer.Length + read > max) return null;
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }
}
