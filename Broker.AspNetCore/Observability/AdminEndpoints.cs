using Akka.Actor;
using Broker.AspNetCore.Api;
using Broker.AspNetCore.Embedding;
using Broker.AspNetCore.Http;
using Broker.Contracts.Protocol;

namespace Broker.AspNetCore.Observability;

/// <summary>
/// The operator console (PROTOCOL §9.5): <c>GET /admin</c> (the page), <c>GET /admin/stats</c>
/// (this node's counts), <c>GET /admin/cluster</c> (every node, <see cref="ClusterReport"/>),
/// <c>GET /admin/users/{user}</c> (<see cref="AdminUserLookup"/>) and
/// <c>POST /admin/users/{user}/disconnect</c> (the back-end API's disconnect, <see cref="IBrokerPublisher.DisconnectUserAsync"/>).
/// Every one needs <c>X-Api-Key</c> or a JWT with scope <c>broker:admin</c>: 401 without, 403 for a
/// token without the scope. Bad input is 400 with the usual <c>{"error":…}</c> body.
/// </summary>
public static class AdminEndpoints
{
    public static IEndpointRouteBuilder MapBrokerAdmin(this IEndpointRouteBuilder app)
    {
        app.MapGet("/admin", async (HttpContext context, ApiAuthorization auth) =>
        {
            var (refusal, _) = await auth.AuthorizeAsync(context, ApiAuthorization.AdminScope);
            context.Response.Headers.CacheControl = "no-store";
            if (refusal is { } status)
                return Results.Content(AdminSignIn.Html(status), "text/html; charset=utf-8", statusCode: status);
            return Results.Content(AdminPage.Html, "text/html; charset=utf-8");
        });
        app.MapGet("/admin/stats", async (HttpContext context, AdminStats stats, ApiAuthorization auth) =>
        {
            if (await RefusedAsync(context, auth)) return;
            var snapshot = await stats.SnapshotAsync(context.RequestAborted);
            await context.Response.WriteAsJsonAsync(snapshot, AdminJsonContext.Default.AdminStatsResponse);
        });
        app.MapGet("/admin/cluster", async (HttpContext context, ClusterReport report, ApiAuthorization auth) =>
        {
            if (await RefusedAsync(context, auth)) return;
            context.Response.Headers.CacheControl = "no-store";
            await context.Response.WriteAsJsonAsync(await report.GetAsync(context.RequestAborted), AdminJsonContext.Default.AdminClusterResponse);
        });
        app.MapGet("/admin/users/{user}", async (HttpContext context, string user, AdminUserLookup lookup, ApiAuthorization auth) =>
        {
            if (await RefusedAsync(context, auth) || await BackendApiEndpoints.BadUser(context, user)) return;
            context.Response.Headers.CacheControl = "no-store";
            try
            {
                await context.Response.WriteAsJsonAsync(await lookup.GetAsync(user, context.RequestAborted), AdminJsonContext.Default.AdminUserResponse);
            }
            catch (AskTimeoutException) when (!context.Response.HasStarted)
            {
                await BrokerHttp.RetryLater(context, "the user's directory entry is moving to another node; retry", ErrorCodes.Unavailable);
            }
        });
        app.MapPost("/admin/users/{user}/disconnect", async (HttpContext context, string user, IBrokerPublisher publisher, ApiAuthorization auth) =>
        {
            if (await RefusedAsync(context, auth)) return;
            try
            {
                await BackendApiEndpoints.DisconnectAuthorizedAsync(context, user, publisher);
            }
            catch (AskTimeoutException) when (!context.Response.HasStarted)
            {
                await BrokerHttp.RetryLater(context, "the user's directory entry is moving to another node; retry", ErrorCodes.Unavailable);
            }
        });
        return app;
    }

    /// <summary>Answers 401 or 403 (with the error body) unless the caller may use the console.</summary>
    private static async Task<bool> RefusedAsync(HttpContext context, ApiAuthorization auth)
    {
        var (refusal, _) = await auth.AuthorizeAsync(context, ApiAuthorization.AdminScope);
        if (refusal is not { } status) return false;
        await BrokerHttp.Problem(context, status, status == 401 ? "missing or invalid credentials" : $"token lacks scope {ApiAuthorization.AdminScope}",
            status == 401 ? ErrorCodes.Unauthorized : ErrorCodes.Forbidden);
        return true;
    }
}
