using Akka.Actor;
using Broker.Actors.Connections;
using Broker.Bench.Baselines;
using Broker.Bench.Infra;
using Broker.AspNetCore.Hosting;

namespace Broker.Bench.Servers;

/// <summary>
/// <c>Broker.Bench serve &lt;broker|raw|signalr&gt; [--Key=Value…]</c>: the server side of a run, in its
/// own process (started by <see cref="ServerProcess"/>). Prints <c>READY &lt;url&gt;</c> once
/// listening, serves <c>/bench/stats</c>, and exits when its standard input closes, so a killed
/// load generator never leaves servers behind.
/// </summary>
public static class ServeCommand
{
    public static async Task<int> RunAsync(ServerKind kind, string[] args)
    {
        ResourceLimits.RaiseFileLimit();
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            EnvironmentName = "Production",
            ContentRootPath = AppContext.BaseDirectory,
        });
        // Defaults first; the command line (the scenario's settings) wins.
        builder.Configuration.Sources.Insert(0, new Microsoft.Extensions.Configuration.Memory.MemoryConfigurationSource
        {
            InitialData = new Dictionary<string, string?>
            {
                ["urls"] = "http://127.0.0.1:0",
                ["Logging:LogLevel:Default"] = "Warning",
                ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
                ["Logging:LogLevel:Akka"] = "Warning",
                // The access log writes a line per connect/close at Information: 50k connects would measure the console.
                ["Logging:LogLevel:Broker.Access"] = "Warning",
                ["Broker:Jwt:SigningKey"] = BenchTokens.SigningKey,
                ["Broker:Cluster:Hostname"] = "127.0.0.1",
                // Publishers send far beyond the per-connection default of 100 frames/s; the
                // baselines have no inbound rate limit either.
                ["Broker:Limits:RatePerSecond"] = "1000000",
                ["Broker:Limits:RateBurst"] = "1000000",
                // The load comes from a handful of loopback addresses (20k sockets each) and the
                // fan-out reuses 64 user ids over 10k+ subscribers: both far past the shipped caps.
                ["Broker:Limits:MaxConnectionsPerIp"] = "0",
                ["Broker:Limits:MaxConnectionsPerUser"] = "0",
                ["Bench:Heartbeat"] = "00:00:25",
                ["Bench:OutboundQueue"] = "1000",
            },
        });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
        builder.WebHost.UseUrls(builder.Configuration["urls"] ?? "http://127.0.0.1:0");

        var heartbeat = builder.Configuration.GetValue<TimeSpan>("Bench:Heartbeat");
        var queue = builder.Configuration.GetValue<int>("Bench:OutboundQueue");
        Func<IServiceProvider, Task<int>> countConnections;
        switch (kind)
        {
            case ServerKind.Broker:
                builder.Services.AddBroker(builder.Configuration, builder.Environment);
                countConnections = async sp =>
                {
                    var stats = await sp.GetRequiredService<BrokerNode>().Connections
                        .Ask<ConnectionMessages.Stats>(ConnectionMessages.GetStats.Instance, TimeSpan.FromSeconds(30));
                    return stats.Connections;
                };
                break;
            case ServerKind.Raw:
                builder.Services.AddSingleton(new RawKestrelBroadcastServer(heartbeat, queue));
                countConnections = sp => Task.FromResult(sp.GetRequiredService<RawKestrelBroadcastServer>().Connections);
                break;
            case ServerKind.SignalR:
                SignalRBroadcastHub.AddServices(builder.Services, heartbeat);
                countConnections = _ => Task.FromResult(SignalRBroadcastHub.Connections);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(kind));
        }

        var app = builder.Build();
        switch (kind)
        {
            case ServerKind.Broker: app.MapBroker(); break;
            case ServerKind.Raw: app.Services.GetRequiredService<RawKestrelBroadcastServer>().Map(app); break;
            case ServerKind.SignalR: SignalRBroadcastHub.Map(app); break;
        }
        app.MapGet("/bench/stats", async (HttpContext context, bool? gc) =>
        {
            var connections = await countConnections(context.RequestServices);
            return Results.Json(ServerStats.Measure(connections, gc == true), BenchJsonContext.Default.ServerStats);
        });

        await app.StartAsync();
        var url = app.Urls.First();
        Console.WriteLine($"READY {url}");
        Console.Out.Flush();

        // The parent holds our stdin: EOF means it is gone (or done with us).
        _ = Task.Run(async () =>
        {
            try { while (await Console.In.ReadLineAsync() is not null) { } }
            catch (IOException) { }
            app.Lifetime.StopApplication();
        });
        await app.WaitForShutdownAsync();
        return 0;
    }
}
