using System.Text.Json.Serialization;
using Broker.Actors.Observability;
using Broker.AspNetCore.Api;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace Broker.AspNetCore.Observability;

/// <summary>Registers and maps the broker's observability: <c>/metrics</c>, the access log, <c>/admin</c>.</summary>
public static class ObservabilityExtensions
{
    /// <summary>OpenTelemetry metrics over the <c>Broker</c> meter with the Prometheus exporter, the access logger, and the admin stats.</summary>
    public static IServiceCollection AddBrokerObservability(this IServiceCollection services)
    {
        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("broker"))
            .WithMetrics(metrics => metrics
                .AddMeter(BrokerMetrics.MeterName)
                // Scrapes are cheap; a cached response would make a scrape right after an event lie.
                .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0));
        services.AddHostedService<ObservabilityService>();
        services.AddSingleton<AdminStats>();
        return services;
    }

    /// <summary>
    /// Maps <c>GET /metrics</c> (Prometheus text, unauthenticated like any scrape target: keep it on
    /// the internal network, or on <c>Broker:Management:Urls</c>), <c>GET /admin</c> and
    /// <c>GET /admin/stats</c>. The console needs credentials (PROTOCOL §9.5): <c>X-Api-Key</c> or a
    /// JWT with scope <c>broker:admin</c>; without them <c>/admin</c> answers 401 with a sign-in
    /// page that asks for one and loads the console with it, so the console itself is never served
    /// to someone without credentials.
    /// </summary>
    public static WebApplication MapBrokerObservability(this WebApplication app)
    {
        app.MapPrometheusScrapingEndpoint("/metrics");
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
            var (refusal, _) = await auth.AuthorizeAsync(context, ApiAuthorization.AdminScope);
            if (refusal is { } status) return Results.StatusCode(status);
            var snapshot = await stats.SnapshotAsync(context.RequestAborted);
            return Results.Json(snapshot, AdminJsonContext.Default.AdminStatsResponse);
        });
        return app;
    }
}

/// <summary>Source-generated JSON for the admin endpoints.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(AdminStatsResponse))]
public sealed partial class AdminJsonContext : JsonSerializerContext;
