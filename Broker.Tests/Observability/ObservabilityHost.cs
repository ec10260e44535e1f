using Broker.Tests.Integration;

namespace Broker.Tests.Observability;

/// <summary>
/// The host the observability tests share: a 1 s heartbeat, a route of its own (so its series are
/// not shared with anyone) and the access log at Debug.
/// </summary>
public sealed class ObservabilityHost : HostFixture
{
    /// <summary>A route only this host's tests use: series tagged with it move only because of them.</summary>
    public string Route { get; } = "obs-" + Guid.NewGuid().ToString("N")[..8];

    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Broker:Heartbeat:Interval"] = "00:00:01",
        ["Broker:Heartbeat:Timeout"] = "00:00:01",
        [$"Broker:Routes:{Route}:AllowPublish"] = "true",
        ["Logging:LogLevel:Broker.Access"] = "Debug",
        ["Broker:ApiKey"] = ApiKey,
    };

    /// <summary>The back-end API key, which also opens the admin console (PROTOCOL §9.5).</summary>
    public const string ApiKey = "observability-api-key-0123456789abcdef";

    protected override string Environment => "Development";

    public LogCapture Logs => Host.Logs;

    public HttpClient Http => Host.Http;

    public Uri WebSocketUri => Host.WebSocketUri(Route);

    public override async Task DisposeAsync()
    {
        // Debugging aids: OBS_DUMP_METRICS / OBS_DUMP_LOG name files for the last scrape and the captured log.
        if (System.Environment.GetEnvironmentVariable("OBS_DUMP_METRICS") is { Length: > 0 } metrics)
            await File.WriteAllTextAsync(metrics, (await ScrapeAsync()).Text);
        if (System.Environment.GetEnvironmentVariable("OBS_DUMP_LOG") is { Length: > 0 } dump)
            await File.WriteAllLinesAsync(dump, Logs.Lines);
        await base.DisposeAsync();
    }

    public async Task<PrometheusScrape> ScrapeAsync()
    {
        var response = await Http.GetAsync("/metrics");
        response.EnsureSuccessStatusCode();
        return PrometheusScrape.Parse(await response.Content.ReadAsStringAsync());
    }
}
