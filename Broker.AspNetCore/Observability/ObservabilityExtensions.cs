using Broker.Actors.Observability;
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
        services.AddSingleton<BrokerCounters>();
        services.AddSingleton<AdminStats>();
        services.AddSingleton<ClusterReport>();
        services.AddSingleton<AdminUserLookup>();
        return services;
    }

    /// <summary>
    /// Maps <c>GET /metrics</c> (Prometheus text, unauthenticated like any scrape target: keep it on
    /// the internal network, or on <c>Broker:Management:Urls</c>) and the console's <c>/admin</c>
    /// endpoints (<see cref="AdminEndpoints"/>). The console needs credentials (PROTOCOL §9.5): <c>X-Api-Key</c> or a
    /// JWT with scope <c>broker:admin</c>; without them <c>/admin</c> answers 401 with a sign-in
    /// page that asks for one and loads the console with it, so the console itself is never served
    /// to someone without credentials.
    /// </summary>
    public static WebApplication MapBrokerObservability(this WebApplication app)
    {
        app.MapPrometheusScrapingEndpoint("/metrics");
        app.MapBrokerAdmin();
        return app;
    }
}
