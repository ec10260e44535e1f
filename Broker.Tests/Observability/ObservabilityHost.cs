using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit;

namespace Broker.Tests.Observability;

/// <summary>
/// The real broker host, in-process on Kestrel at a free port, with a 1 s heartbeat, a route of
/// its own (so its series are not shared with anyone) and every log entry captured.
/// </summary>
public sealed class ObservabilityHost : IAsyncLifetime
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private BrokerTestHost? _host;

    /// <summary>A route only this host's tests use: series tagged with it move only because of them.</summary>
    public string Route { get; } = "obs-" + Guid.NewGuid().ToString("N")[..8];

    public CapturingLoggerProvider Logs { get; } = new();
    public HttpClient Http { get; private set; } = null!;
    public Uri BaseAddress { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _host = await BrokerTestHost.StartAsync(new Dictionary<string, string?>
        {
            ["Broker:Heartbeat:Interval"] = "00:00:01",
            ["Broker:Heartbeat:Timeout"] = "00:00:01",
            [$"Broker:Routes:{Route}:AllowPublish"] = "true",
            ["Logging:LogLevel:Broker.Access"] = "Debug",
        }, environment: "Development", services: s => s.AddSingleton<ILoggerProvider>(Logs));
        BaseAddress = _host.BaseUri;
        Http = _host.Http;
    }

    public async Task DisposeAsync()
    {
        // Debugging aids: OBS_DUMP_METRICS / OBS_DUMP_LOG name files for the last scrape and the captured log.
        if (Environment.GetEnvironmentVariable("OBS_DUMP_METRICS") is { Length: > 0 } metrics && Http is not null)
            await File.WriteAllTextAsync(metrics, (await ScrapeAsync()).Text);
        if (Environment.GetEnvironmentVariable("OBS_DUMP_LOG") is { Length: > 0 } dump)
            await File.WriteAllLinesAsync(dump, Logs.Entries.Select(e => $"{e.Level} {e.Category} {e.EventId.Name}: {e.Message} {e.Exception}"));
        if (_host is not null) await _host.DisposeAsync();
    }

    /// <summary>A development token for <paramref name="user"/>.</summary>
    public async Task<string> TokenAsync(string user)
    {
        var response = await Http.PostAsync($"/auth/dev-token?user={user}", null);
        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return body.GetProperty("token").GetString()!;
    }

    public async Task<PrometheusScrape> ScrapeAsync()
    {
        var response = await Http.GetAsync("/metrics");
        response.EnsureSuccessStatusCode();
        return PrometheusScrape.Parse(await response.Content.ReadAsStringAsync());
    }

    public Uri WebSocketUri => new($"ws://{BaseAddress.Authority}/ws/{Route}");
}

/// <summary>Keeps every log entry the host writes, with its structured state.</summary>
public sealed class CapturingLoggerProvider : ILoggerProvider
{
    public ConcurrentQueue<LogEntry> Entries { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, Entries);

    public void Dispose() { }

    private sealed class Logger(string category, ConcurrentQueue<LogEntry> entries) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var values = state as IReadOnlyList<KeyValuePair<string, object?>> ?? [];
            entries.Enqueue(new LogEntry(category, logLevel, eventId,
                formatter(state, exception), values.ToDictionary(kv => kv.Key, kv => kv.Value?.ToString()), exception?.ToString()));
        }
    }
}

/// <summary>One captured log entry.</summary>
public sealed record LogEntry(string Category, LogLevel Level, EventId EventId, string Message, IReadOnlyDictionary<string, string?> Values, string? Exception);

/// <summary>Polls a condition until it holds or a deadline passes; no sleeping on hope.</summary>
public static class Poll
{
    public static async Task UntilAsync(Func<Task<bool>> condition, string failure, TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? ObservabilityHost.Timeout);
        while (true)
        {
            try
            {
                if (await condition()) return;
            }
            catch (HttpRequestException) { /* not up yet */ }
            if (DateTime.UtcNow > deadline) throw new TimeoutException(failure);
            await Task.Delay(50);
        }
    }

    public static Task UntilAsync(Func<bool> condition, string failure, TimeSpan? within = null) =>
        UntilAsync(() => Task.FromResult(condition()), failure, within);
}
