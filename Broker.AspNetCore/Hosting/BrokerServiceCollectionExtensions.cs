using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Hosting;
using Akka.Configuration;
using Akka.Hosting;
using Akka.Persistence.Sql.Hosting;
using Akka.Remote.Hosting;
using Broker.Actors.Auth;
using Broker.AspNetCore.Configuration;
using Broker.Actors.Connections;
using Broker.Actors.Observability;
using Broker.Actors.Rooms;
using Broker.Actors.Serialization;
using Broker.Actors.Tickets;
using Broker.Actors.Users;
using Broker.AspNetCore.Auth;
using Broker.AspNetCore.Observability;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Broker.AspNetCore.Hosting;

/// <summary>Registers the broker (options, auth, the Akka node) in an ASP.NET Core app.</summary>
public static class BrokerServiceCollectionExtensions
{
    /// <summary>The default listen address of PROTOCOL §8, used when no URL is configured.</summary>
    public const string DefaultUrl = "http://127.0.0.1:5080";

    /// <summary>
    /// The standalone host's defaults: <see cref="UseBrokerDefaultUrl"/>, and durable rooms in an
    /// embedded SQLite file when no store is configured and the node runs alone (PROTOCOL §9.2).
    /// Call after <c>AddBroker</c>. An app that embeds the broker keeps <c>Broker:Persistence:Provider=none</c> unless it sets one.
    /// </summary>
    public static WebApplicationBuilder UseBrokerStandaloneDefaults(this WebApplicationBuilder builder)
    {
        builder.UseBrokerDefaultUrl();
        builder.Services.Configure<BrokerOptions>(options => options.Persistence.StandaloneDefault = true);
        return builder;
    }

    /// <summary>Serve on <see cref="DefaultUrl"/> unless <c>--urls</c>, <c>ASPNETCORE_URLS</c> or Kestrel endpoints say otherwise.</summary>
    public static WebApplicationBuilder UseBrokerDefaultUrl(this WebApplicationBuilder builder)
    {
        var configured = builder.Configuration["urls"] is { Length: > 0 }
                         || builder.Configuration.GetSection("Kestrel:Endpoints").GetChildren().Any();
        if (!configured) builder.WebHost.UseUrls(DefaultUrl);
        return builder.UseBrokerManagementUrls();
    }

    /// <summary>
    /// Adds <c>Broker:Management:Urls</c> (PROTOCOL §9.5) to the URLs Kestrel listens on, beside the
    /// client-facing ones; <see cref="Observability.ManagementSurface"/> keeps each endpoint on its
    /// side. With Kestrel endpoints configured in <c>Kestrel:Endpoints</c>, add one for the
    /// management URL there instead: this cannot merge with them.
    /// </summary>
    public static WebApplicationBuilder UseBrokerManagementUrls(this WebApplicationBuilder builder)
    {
        var management = builder.Configuration[$"{BrokerOptions.Section}:Management:Urls"];
        if (string.IsNullOrWhiteSpace(management)) return builder;
        var current = builder.Configuration["urls"] is { Length: > 0 } urls ? urls : DefaultUrl;
        if (current.Contains(management, StringComparison.OrdinalIgnoreCase)) return builder; // added already
        builder.WebHost.UseUrls($"{current};{management}");
        return builder;
    }

    /// <summary>
    /// Embeds the broker in <paramref name="builder"/>'s app: <see cref="AddBroker(IServiceCollection, IConfiguration, IHostEnvironment)"/>
    /// with the builder's configuration and environment, then <paramref name="configure"/> on <see cref="BrokerOptions"/>
    /// (after binding, so code wins over configuration). Inject <see cref="Embedding.IBrokerPublisher"/> to push messages.
    /// </summary>
    public static WebApplicationBuilder AddBroker(this WebApplicationBuilder builder, Action<BrokerOptions>? configure = null)
    {
        builder.Services.AddBroker(builder.Configuration, builder.Environment);
        if (configure is not null) builder.Services.Configure(configure);
        return builder.UseBrokerManagementUrls();
    }

    /// <summary>Adds the broker: options bound from <c>Broker</c>, token validation, tickets, and an Akka cluster node.</summary>
    public static IServiceCollection AddBroker(this IServiceCollection services, IConfiguration configuration, IHostEnvironment environment)
    {
        services.AddOptions<BrokerOptions>()
            .Bind(configuration.GetSection(BrokerOptions.Section))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<BrokerOptions>, BrokerOptionsValidator>();
        services.TryAddSingleton(TimeProvider.System); // an embedding app's own clock wins
        services.AddSingleton(sp => new JwtKeys(sp.GetRequiredService<IOptions<BrokerOptions>>().Value.Jwt, environment.IsDevelopment()));
        services.AddSingleton<JwtTokenValidator>();
        // Every token check (WebSocket, ticket, API) goes through this one: Broker:Auth:JwtBearerScheme
        // switches it to the host app's JwtBearer; an app's own registered after AddBroker replaces it.
        services.AddSingleton<ITokenValidator>(sp => HostAuthentication.CreateValidator(sp));
        services.AddSingleton<DevTokenIssuer>();
        services.AddSingleton<Api.ApiAuthorization>();
        services.AddSingleton<ITicketStore>(sp => new ClusterTicketStore(
            sp.GetRequiredService<BrokerNode>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<IOptions<BrokerOptions>>().Value,
            sp.GetRequiredService<TicketCodec>()));
        services.AddSingleton(sp => TicketCodec.Create(sp.GetRequiredService<IOptions<BrokerOptions>>().Value, sp.GetRequiredService<JwtKeys>()));
        services.AddSingleton<BrokerNode>();
        services.AddSingleton<WebSockets.ClientIpLimiter>();
        services.AddSingleton<Sse.SseSessions>();
        // The application's room rules; replace by registering your own IRoomAuthorizer.
        services.TryAddSingleton<IRoomAuthorizer>(AllowAllRooms.Instance);
        services.AddSingleton<Embedding.IBrokerPublisher, Embedding.BrokerPublisher>();
        // Cluster Bootstrap's contact point (config and kubernetes discovery); does nothing with seeds.
        services.AddHostedService<BootstrapContactPoint>();
        services.AddSingleton(sp => new Persistence.RoomStore(sp.GetRequiredService<IOptions<BrokerOptions>>().Value, environment));
        services.AddSingleton<RoomStoreHealth>();
        services.AddHealthChecks()
            .AddCheck<ClusterReadyHealthCheck>("cluster", tags: ["ready"])
            .AddCheck<Persistence.RoomStoreHealthCheck>("room-store", tags: ["ready"]);

        // ASP.NET Core's request start/finish lines include the query string, i.e. the handshake's
        // ?ticket= credential (PROTOCOL §2: credentials never appear in logs). Keep that category
        // at Warning whatever the configured level; errors are still logged.
        services.AddLogging(logging => logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Warning));

        services.AddAkka("broker", (akka, sp) => ConfigureNode(akka, sp));
        services.AddBrokerObservability(); // after AddAkka: its start-up waits for the node
        return services;
    }

    private static void ConfigureNode(AkkaConfigurationBuilder akka, IServiceProvider sp)
    {
        var options = sp.GetRequiredService<IOptions<BrokerOptions>>().Value;
        var seeds = (options.Cluster.SeedNodes ?? "")
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

        var rooms = options.ToRoomSettings();
        akka.AddHocon(LoadHocon(), HoconAddMode.Prepend);
        var store = sp.GetRequiredService<Persistence.RoomStore>();
        if (store.Configured)
        {
            // Fail the start, naming the key, rather than every durable room later.
            store.EnsureReachable(options.Persistence.StartTimeout);
            store.Prepare();
            akka.WithSqlPersistence(store.ConnectionString!, store.Linq2DbProvider, autoInitialize: true);
            akka.AddHocon(ConfigurationFactory.ParseString(StoreHocon(options.Persistence, store)), HoconAddMode.Prepend);
        }
        // Added after, so operator overrides win over the built-in file.
        if (options.Akka.Hocon is { Length: > 0 } overrides)
            akka.AddHocon(ConfigurationFactory.ParseString(overrides), HoconAddMode.Prepend);
        akka
            .ConfigureLoggers(loggers => loggers.AddLoggerFactory())
            .AddBrokerSerializer()
            .WithRemoting(options.Cluster.Hostname, options.Cluster.Port)
            .WithClustering(new Akka.Cluster.Hosting.ClusterOptions
            {
                Roles = options.Cluster.Roles.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                SeedNodes = seeds.Length > 0 ? seeds : null,
            })
            .WithClusterFormation(options.Cluster)
            .AddRoomActor(rooms, storeHealth: sp.GetRequiredService<RoomStoreHealth>())
            .AddUserActor(rooms)
            .AddTicketActor(options.Auth.TicketTombstone)
            .WithActors((system, registry) =>
            {
                var cluster = Cluster.Get(system);
                var nodeName = $"{cluster.SelfAddress.Host}:{cluster.SelfAddress.Port}";
                var services = new ConnectionServices(registry.Get<RoomHubKey>(), registry.Get<UserHubKey>(), sp.GetRequiredService<IRoomAuthorizer>(),
                    Embedding.BrokerMessageHandlerExtensions.BuildMessageHandlers(sp, options),
                    new UserJoinLimiter(options.Limits.JoinsPerSecondPerUser, options.Limits.JoinBurstPerUser, sp.GetRequiredService<TimeProvider>()));
                var supervisor = system.ActorOf(
                    ConnectionSupervisor.Props(options.ToConnectionSettings(nodeName), sp.GetRequiredService<ITokenValidator>(), services),
                    "connections");
                registry.Register<ConnectionSupervisor>(supervisor);
                sp.GetRequiredService<BrokerNode>().Start(system, supervisor, registry.Get<RoomActor>(), registry.Get<UserActor>(),
                    registry.Get<TicketActor>(), nodeName);
            })
            // The console's view of this node, asked by the console on any node (after the supervisor it reads).
            .AddNodeReportActor(sp.GetRequiredService<BrokerCounters>(), sp.GetRequiredService<TimeProvider>())
            .AddStartup((system, _) =>
            {
                // However shutdown starts (host stop, SIGTERM, being downed), sockets close with 1001
                // first, before the node leaves the cluster and hands its rooms off.
                var node = sp.GetRequiredService<BrokerNode>();
                CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseBeforeServiceUnbind, "close-websockets",
                    async () =>
                    {
                        await node.CloseAllSocketsAsync(options.Shutdown.CloseTimeout);
                        return Akka.Done.Instance;
                    });
                // The store's tables are created now (auto-initialize), not on the first durable publish.
                if (store.Configured)
                {
                    Akka.Persistence.Persistence.Instance.Apply(system).JournalFor(null);
                    Akka.Persistence.Persistence.Instance.Apply(system).SnapshotStoreFor(null);
                }
                // Alone (no seeds, no discovery) the node forms a cluster of one, so one node and many
                // run the same code. With a discovery method, Cluster Bootstrap joins or forms the cluster.
                if (!options.Cluster.Clustered) Cluster.Get(system).Join(Cluster.Get(system).SelfAddress);
            });
    }

    /// <summary>
    /// The journal's and snapshot store's circuit breakers (Akka.Persistence): a call that takes
    /// longer than <c>CallTimeout</c> fails, and after 5 failures calls fail at once for
    /// <c>ResetTimeout</c>, so a hung database answers <c>unavailable</c> quickly instead of hanging.
    /// </summary>
    /// <remarks>SQLite takes one writer at a time: the journal writes its batches one after another rather than queue on the file's lock.</remarks>
    private static string StoreHocon(PersistenceOptions persistence, Persistence.RoomStore store)
    {
        var breaker = $"circuit-breaker {{ max-failures = 5, call-timeout = {(long)persistence.CallTimeout.TotalMilliseconds}ms, " +
                      $"reset-timeout = {(long)persistence.ResetTimeout.TotalMilliseconds}ms }}";
        var parallelism = store.Provider == PersistenceOptions.Sqlite ? " parallelism = 1" : "";
        return $"akka.persistence.journal.sql {{ {breaker}{parallelism} }}\nakka.persistence.snapshot-store.sql {{ {breaker} }}";
    }

    private static Config LoadHocon()
    {
        using var stream = typeof(BrokerServiceCollectionExtensions).Assembly
            .GetManifestResourceStream("Broker.AspNetCore.hocon.broker.hocon")
            ?? throw new InvalidOperationException("hocon/broker.hocon is not embedded in Broker.AspNetCore");
        using var reader = new StreamReader(stream);
        return ConfigurationFactory.ParseString(reader.ReadToEnd());
    }
}
