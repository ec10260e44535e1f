using System.Net;
using Broker.Actors.Connections;
using Broker.AspNetCore.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Broker.Tests.Infrastructure;

/// <summary>
/// The tests' one host builder: the real broker host (Kestrel, the Akka node, every endpoint)
/// started in-process on a random loopback port, with configuration overrides, optional service
/// overrides, and captured logs; alone (<see cref="StartAsync"/>) or as a cluster member
/// (<see cref="StartClusterNodeAsync"/>). Fixtures and <c>ClusterNode</c> are built on it.
/// </summary>
public sealed class BrokerTestHost : IAsyncDisposable
{
    private static readonly TimeSpan StartDeadline = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan StopDeadline = TimeSpan.FromSeconds(30);

    private readonly WebApplication _app;
    private int _stopped;

    private BrokerTestHost(WebApplication app, Uri baseUri, LogCapture logs)
    {
        _app = app;
        BaseUri = baseUri;
        Logs = logs;
        Http = new HttpClient { BaseAddress = baseUri, Timeout = TestClient.DefaultTimeout };
    }

    /// <summary><c>http://127.0.0.1:port/</c>.</summary>
    public Uri BaseUri { get; }

    /// <summary>The <c>host:port</c> the server is reached at (what a same-host Origin names).</summary>
    public string Authority => BaseUri.Authority;

    /// <summary>An HTTP client aimed at the host, with a timeout.</summary>
    public HttpClient Http { get; }

    /// <summary>Every log line the host wrote.</summary>
    public LogCapture Logs { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>The running app (its services, its lifetime).</summary>
    public WebApplication App => _app;

    /// <summary>The broker's Akka node in this host.</summary>
    public BrokerNode Node => Services.GetRequiredService<BrokerNode>();

    /// <summary>
    /// Starts a host whose Akka node listens on <paramref name="akkaPort"/> (0: any) and joins
    /// <paramref name="seeds"/> over real Akka.Remote on loopback; it is ready once it is an Up member.
    /// </summary>
    public static Task<BrokerTestHost> StartClusterNodeAsync(int akkaPort, string seeds, IEnumerable<KeyValuePair<string, string?>>? settings = null)
    {
        var config = new Dictionary<string, string?>
        {
            ["Broker:Cluster:Port"] = akkaPort.ToString(),
            ["Broker:Cluster:SeedNodes"] = seeds,
            // Detect and down a crashed node in seconds, not the production defaults.
            ["Broker:Akka:Hocon"] = """
                akka.cluster.split-brain-resolver.stable-after = 2s
                akka.cluster.failure-detector.acceptable-heartbeat-pause = 2s
                akka.coordinated-shutdown.run-by-actor-system-terminate = off
                """,
        };
        foreach (var (key, value) in settings ?? []) config[key] = value;
        return StartAsync(config, environment: "Development");
    }

    /// <summary>Starts a host and waits until <c>/health/ready</c> answers 200.</summary>
    /// <param name="settings">Configuration overrides (e.g. <c>Broker:Heartbeat:Interval</c>); a null value removes a default.</param>
    /// <param name="environment">The hosting environment name; <c>Production</c> unless a test needs Development.</param>
    /// <param name="services">Service overrides applied after <c>AddBroker</c> (last registration wins).</param>
    /// <param name="minimumLevel">The lowest log level captured.</param>
    /// <param name="endpoints">Endpoints mapped after <c>MapBroker</c> (e.g. <c>app.MapBrokerDemo()</c>).</param>
    /// <param name="beforeBroker">Middleware an embedding app adds before <c>MapBroker</c> (e.g. its own <c>UseWebSockets()</c>).</param>
    public static async Task<BrokerTestHost> StartAsync(
        IReadOnlyDictionary<string, string?>? settings = null,
        string environment = "Production",
        Action<IServiceCollection>? services = null,
        LogLevel minimumLevel = LogLevel.Information,
        Action<WebApplication>? endpoints = null,
        Action<WebApplication>? beforeBroker = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            EnvironmentName = environment,
            ApplicationName = typeof(BrokerServiceCollectionExtensions).Assembly.GetName().Name,
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.WebHost.UseUrls("http://127.0.0.1:0");

        var config = new Dictionary<string, string?>
        {
            ["Broker:Jwt:SigningKey"] = TestTokens.SigningKey,
            [$"Broker:Jwt:RsaPublicKeys:{TestTokens.RsaKeyId}"] = TestTokens.RsaPublicPem,
            ["Broker:Cluster:Hostname"] = "127.0.0.1",
            ["Broker:Cluster:Port"] = "0",
            ["Logging:LogLevel:Default"] = minimumLevel.ToString(),
            ["Logging:LogLevel:Microsoft"] = minimumLevel.ToString(),
            ["Logging:LogLevel:Microsoft.AspNetCore"] = minimumLevel.ToString(),
            ["Logging:LogLevel:Akka"] = minimumLevel.ToString(),
        };
        if (settings is not null)
            foreach (var (key, value) in settings) config[key] = value;
        builder.Configuration.AddInMemoryCollection(config.Where(kv => kv.Value is not null));

        var logs = new LogCapture();
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(minimumLevel);
        builder.Logging.AddProvider(logs);
        if (Environment.GetEnvironmentVariable("BROKER_TEST_LOGS") is not null) builder.Logging.AddConsole(); // a debugging aid

        builder.Services.AddBroker(builder.Configuration, builder.Environment);
        services?.Invoke(builder.Services);

        var app = builder.Build();
        beforeBroker?.Invoke(app);
        app.MapBroker();
        endpoints?.Invoke(app);
        return await StartAsync(app, logs);
    }

    /// <summary>Starts an app that maps the broker (an embedding app, built its own way) and waits until <c>/health/ready</c> answers 200.</summary>
    public static async Task<BrokerTestHost> StartAsync(WebApplication app, LogCapture? logs = null)
    {
        try
        {
            using var start = new CancellationTokenSource(StartDeadline);
            await app.StartAsync(start.Token);
        }
        catch
        {
            // A host that failed to start (a test of bad settings) must not leak its actor system.
            await app.DisposeAsync();
            throw;
        }

        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var host = new BrokerTestHost(app, new Uri(address.TrimEnd('/') + "/"), logs ?? new LogCapture());
        try
        {
            await host.WaitUntilReadyAsync();
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }
        return host;
    }

    /// <summary><c>ws://127.0.0.1:port/ws/{route}</c>, with an optional query string.</summary>
    public Uri WebSocketUri(string route, string? query = null) =>
        new($"ws://{Authority}/ws/{route}{(query is null ? "" : "?" + query)}");

    /// <summary>Connects to <paramref name="route"/> and authenticates with a fresh token for <paramref name="user"/>; returns the client after <c>welcome</c>.</summary>
    public async Task<TestClient> ConnectAuthenticatedAsync(string user, string route = "chat", bool autoPong = false)
    {
        var client = await TestClient.ConnectAuthenticatedAsync(WebSocketUri(route), TestTokens.Valid(user), autoPong);
        Xunit.Assert.Equal(user, client.User);
        return client;
    }

    /// <summary>The connection supervisor's counts (to observe server-side effects without sleeping).</summary>
    public Task<ConnectionMessages.Stats> StatsAsync() =>
        Node.Connections.Ask<ConnectionMessages.Stats>(ConnectionMessages.GetStats.Instance, TestClient.DefaultTimeout);

    /// <summary>Stops the host gracefully (what SIGTERM does).</summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1) return;
        using var stop = new CancellationTokenSource(StopDeadline);
        await _app.StopAsync(stop.Token);
    }

    /// <summary>Stops at once, without draining (clients see sockets drop), and disposes.</summary>
    public async Task AbortAsync()
    {
        Interlocked.Exchange(ref _stopped, 1);
        try { await _app.StopAsync(new CancellationToken(canceled: true)).WaitAsync(StopDeadline); }
        catch (Exception) { /* already failing; the test result says why */ }
        await DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        try { await StopAsync(); }
        finally { await _app.DisposeAsync(); }
    }

    private async Task WaitUntilReadyAsync()
    {
        var deadline = DateTime.UtcNow + StartDeadline;
        HttpStatusCode? last = null;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                using var response = await Http.GetAsync("health/ready");
                if (response.StatusCode == HttpStatusCode.OK) return;
                last = response.StatusCode;
            }
            catch (HttpRequestException) { /* not listening yet */ }
            await Task.Delay(50);
        }
        throw new TimeoutException($"/health/ready was not 200 within {StartDeadline} (last: {last})");
    }
}
