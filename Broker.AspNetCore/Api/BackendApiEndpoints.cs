using System.Text.Json;
using Akka.Actor;
using Broker.AspNetCore.Configuration;
using Broker.Contracts.Cluster;
using Broker.Contracts.Protocol;
using Broker.AspNetCore.Hosting;
using Broker.AspNetCore.WebSockets;
using Microsoft.Extensions.Options;

namespace Broker.AspNetCore.Api;

/// <summary>
/// The back-end HTTP API (PROTOCOL §1): publish to a room or a user, room presence, user status;
/// and, beyond the contract, disconnecting a user (docs/protocol-notes.md).
/// </summary>
public static class BackendApiEndpoints
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(5);

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
        catch (AskTimeoutException)
        {
            var context = invocation.HttpContext;
            if (context.Response.HasStarted) throw;
            context.Response.Headers.RetryAfter = "1";
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            await context.Response.WriteAsJsonAsync(new HttpError("the room or user is moving to another node; retry", ErrorCodes.Unavailable),
                HostJsonContext.Default.HttpError);
            return null;
        }
    }

    private static async Task PublishAsync(HttpContext context, ApiAuthorization auth, BrokerNode node, IOptions<BrokerOptions> options)
    {
        var (refusal, caller) = await auth.AuthorizeAsync(context);
        if (refusal is { } status)
        {
            await WebSocketEndpoint.Problem(context, status, status == 401 ? "missing or invalid credentials" : $"token lacks scope {ApiAuthorization.PublishScope}");
            return;
        }
        var body = await ReadBodyAsync(context, options.Value.Limits.MaxMessageBytes);
        if (body is null)
        {
            await WebSocketEndpoint.Problem(context, 400, $"body must be JSON of at most {options.Value.Limits.MaxMessageBytes} bytes");
            return;
        }
        ApiPublishRequest? request;
        try { request = JsonSerializer.Deserialize(body, HostJsonContext.Default.ApiPublishRequest); }
        catch (JsonException) { request = null; }
        if (request is null || request.Payload.ValueKind == JsonValueKind.Undefined || (request.Room is null) == (request.User is null))
        {
            await WebSocketEndpoint.Problem(context, 400, "body must be {\"room\":\"r\",\"payload\":…} or {\"user\":\"u\",\"payload\":…}");
            return;
        }
        var payload = ServerFrames.RawJson(request.Payload);
        if (request.Room is { } room)
        {
            if (FrameParser.RoomError(room) is { } roomError)
            {
                await WebSocketEndpoint.Problem(context, 400, roomError);
                return;
            }
            var accepted = await node.Rooms.Ask<RoomEvents.PublishAccepted>(
                new RoomCommands.PublishToRoom(room, null, caller, payload, false, null), AskTimeout);
            context.Response.StatusCode = StatusCodes.Status202Accepted;
            await context.Response.WriteAsJsonAsync(new ApiPublishAccepted(accepted.Offset, accepted.Epoch), HostJsonContext.Default.ApiPublishAccepted);
            return;
        }
        if (await BadUser(context, request.User!)) return;
        var delivered = await node.Users.Ask<UserEvents.DirectDelivered>(
            new UserCommands.SendToUser(request.User!, caller, payload, null), AskTimeout);
        context.Response.StatusCode = StatusCodes.Status202Accepted;
        await context.Response.WriteAsJsonAsync(new ApiSendAccepted(delivered.Delivered), HostJsonContext.Default.ApiSendAccepted);
    }

    private static async Task GetRoomAsync(HttpContext context, string room, ApiAuthorization auth, BrokerNode node)
    {
        if (await Refused(context, auth)) return;
        if (FrameParser.RoomError(room) is { } roomError)
        {
            await WebSocketEndpoint.Problem(context, 400, roomError);
            return;
        }
        var info = await node.Rooms.Ask<RoomEvents.RoomInfo>(new RoomCommands.GetRoomInfo(room), AskTimeout);
        await context.Response.WriteAsJsonAsync(new ApiRoomPresence(info.RoomId, info.Members, info.Offset, info.Epoch), HostJsonContext.Default.ApiRoomPresence);
    }

    private static async Task GetUserAsync(HttpContext context, string user, ApiAuthorization auth, BrokerNode node)
    {
        if (await Refused(context, auth)) return;
        if (await BadUser(context, user)) return;
        var status = await node.Users.Ask<UserEvents.UserStatus>(new UserCommands.GetUserStatus(user), AskTimeout);
        await context.Response.WriteAsJsonAsync(new ApiUserStatus(status.UserId, status.Online, status.Connections, status.Rooms), HostJsonContext.Default.ApiUserStatus);
    }

    private static async Task DisconnectUserAsync(HttpContext context, string user, ApiAuthorization auth, BrokerNode node)
    {
        if (await Refused(context, auth)) return;
        if (await BadUser(context, user)) return;
        var body = await ReadBodyAsync(context, 1024); // null when larger: refused below
        ApiDisconnectRequest? request;
        try { request = body is [] ? new ApiDisconnectRequest() : body is null ? null : JsonSerializer.Deserialize(body, HostJsonContext.Default.ApiDisconnectRequest); }
        catch (JsonException) { request = null; }
        if (request is null)
        {
            await WebSocketEndpoint.Problem(context, 400, "body must be empty or {\"reconnect\":true|false}");
            return;
        }
        // 4500–4999 tells clients to reconnect and recover; 4403 (4000–4499) tells them to stay away.
        var close = request.Reconnect ? Close.Disconnected : Close.DisconnectedForbidden;
        var done = await node.Users.Ask<UserEvents.UserDisconnected>(new UserCommands.DisconnectUser(user, close), AskTimeout);
        context.Response.StatusCode = StatusCodes.Status202Accepted;
        await context.Response.WriteAsJsonAsync(new ApiDisconnectAccepted(done.Disconnected), HostJsonContext.Default.ApiDisconnectAccepted);
    }

    /// <summary>Answers 400 for a user id that is empty or longer than <see cref="FrameParser.MaxUserLength"/>.</summary>
    private static async Task<bool> BadUser(HttpContext context, string user)
    {
        if (user.Length is > 0 and <= FrameParser.MaxUserLength) return false;
        await WebSocketEndpoint.Problem(context, 400, "user must be 1 to 256 characters");
        return true;
    }

    private static async Task<bool> Refused(HttpContext context, ApiAuthorization auth)
    {
        var (refusal, _) = await auth.AuthorizeAsync(context);
        if (refusal is not { } status) return false;
        await WebSocketEndpoint.Problem(context, status, status == 401 ? "missing or invalid credentials" : $"token lacks scope {ApiAuthorization.PublishScope}");
        return true;
    }

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
