using Akka.Actor;
using Broker.Actors.Auth;
using Broker.AspNetCore.Configuration;
using Broker.Actors.Connections;
using Broker.Contracts.Protocol;
using Broker.AspNetCore.Api;
using Broker.AspNetCore.Auth;
using Broker.AspNetCore.Http;
using Broker.AspNetCore.Observability;
using Broker.AspNetCore.Sse;
using Broker.AspNetCore.WebSockets;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Broker.AspNetCore.Hosting;

/// <summary>Maps the broker's endpoints (PROTOCOL §1) into an ASP.NET Core app.</summary>
public static class BrokerEndpointRouteBuilderExtensions
{
    /// <summary>Maps <c>/ws/{route}</c>, <c>/sse/{route}</c>, <c>/auth/*</c>, <c>/api/*</c>, <c>/health/*</c> and the JS client at <c>/broker/*</c>, and closes sockets with 1001 on shutdown.</summary>
    public static WebApplication MapBroker(this WebApplication app)
    {
        // The socket endpoint's services are singletons, resolved once here: bound per request they
        // would open a DI scope that lives as long as the socket (memory per idle connection).
        var brokerOptions = app.Services.GetRequiredService<IOptions<BrokerOptions>>();

        // First: with Broker:Management:Urls, each endpoint answers on its own side only (PROTOCOL §9.5).
        app.UseBrokerManagementSurface(brokerOptions.Value.Management);

        // Just before UseWebSockets, which captures the upgrade feature this swaps: sockets get a
        // stream their write loop can cork, to send a backlog in one flush (docs/security.md).
        var limits = brokerOptions.Value.Limits;
        if (limits.WriteBatchFrames > 1) app.UseCorkedUpgrades(limits.WriteBatchBytes);
        app.UseWebSockets();

        var node = app.Services.GetRequiredService<BrokerNode>();
        var tickets = app.Services.GetRequiredService<ITicketStore>();
        var loggers = app.Services.GetRequiredService<ILoggerFactory>();
        var clock = app.Services.GetRequiredService<TimeProvider>();
        var ipLimiter = app.Services.GetRequiredService<ClientIpLimiter>();
        app.Map("/ws/{route}", (HttpContext context, string route) =>
            WebSocketEndpoint.HandleAsync(context, route, brokerOptions, node, tickets, loggers, clock, ipLimiter));
        // The SSE fallback (PROTOCOL §9.4): the same routes, checks and connection actors, another transport.
        var validator = app.Services.GetRequiredService<ITokenValidator>();
        var sessions = app.Services.GetRequiredService<SseSessions>();
        app.MapGet("/sse/{route}", (HttpContext context, string route) =>
            SseStreamEndpoint.HandleAsync(context, route, brokerOptions, node, tickets, validator, sessions, loggers, clock, ipLimiter));
        app.MapPost("/sse/{route}/{session}", (HttpContext context, string route, string session) =>
            SsePostEndpoint.HandleAsync(context, route, session, brokerOptions, validator, sessions));
        app.MapMethods("/sse/{route}/{session}", [HttpMethods.Options], (HttpContext context, string route) =>
            SsePostEndpoint.PreflightAsync(context, route, brokerOptions));
        app.MapPost("/auth/ticket", IssueTicketAsync);
        app.MapBackendApi();
        // With the host app's JwtBearer in charge, the broker's dev tokens would be refused: the app issues tokens.
        if (app.Environment.IsDevelopment() && string.IsNullOrEmpty(brokerOptions.Value.Auth.JwtBearerScheme))
            app.MapPost("/auth/dev-token", IssueDevToken);

        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains("ready"),
            ResponseWriter = HealthResponse.WriteAsync,
        });
        app.MapBrokerObservability();
        app.MapBrokerClientScripts();

        // Before Kestrel stops waiting on WebSocket requests: close them with 1001 (also a
        // CoordinatedShutdown task, whichever shutdown path comes first).
        app.Lifetime.ApplicationStopping.Register(() => node.CloseAllSocketsAsync(brokerOptions.Value.Shutdown.CloseTimeout).Wait());
        return app;
    }

    private static async Task IssueTicketAsync(HttpContext context, ITokenValidator validator, ITicketStore tickets, IOptions<BrokerOptions> options)
    {
        var check = await validator.ValidateAsync(BrokerHttp.BearerToken(context));
        if (check.User is null)
        {
            await BrokerHttp.Problem(context, 401, ReservedSubjects.RefusalFor(check.Kind, "invalid or missing bearer token"));
            return;
        }
        string ticket;
        try
        {
            ticket = await tickets.IssueAsync(check.User, BrokerHttp.ClientIp(context));
        }
        catch (Akka.Actor.AskTimeoutException)
        {
            await BrokerHttp.RetryLater(context, "the ticket ledger is moving to another node; retry", ErrorCodes.Unavailable);
            return;
        }
        await context.Response.WriteAsJsonAsync(new TicketResponse(ticket, (int)options.Value.Auth.TicketLifetime.TotalSeconds), HostJsonContext.Default.TicketResponse);
    }

    private static Task IssueDevToken(HttpContext context, string? user, string? scope, DevTokenIssuer issuer)
    {
        if (string.IsNullOrWhiteSpace(user) || user.Length > FrameParser.MaxUserLength)
            return BrokerHttp.Problem(context, 400, $"user is required (1 to {FrameParser.MaxUserLength} characters)");
        if (ReservedSubjects.IsReserved(user))
            return BrokerHttp.Problem(context, 400, $"'{user}' is reserved: 'server' and 'anon-…' are the broker's own senders");
        var lifetime = TimeSpan.FromHours(1);
        var scopes = string.IsNullOrWhiteSpace(scope) ? [] : scope.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return context.Response.WriteAsJsonAsync(new DevTokenResponse(issuer.Issue(user, lifetime, scopes), (int)lifetime.TotalSeconds), HostJsonContext.Default.DevTokenResponse);
    }
}
