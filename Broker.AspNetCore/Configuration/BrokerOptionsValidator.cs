using Broker.AspNetCore.Configuration;
using Microsoft.Extensions.Options;

namespace Broker.AspNetCore.Hosting;

/// <summary>Rejects nonsensical settings at start-up with a message naming the configuration key.</summary>
public sealed class BrokerOptionsValidator(IHostEnvironment environment) : IValidateOptions<BrokerOptions>
{
    /// <summary>The shortest <c>Broker:Heartbeat:Interval</c> accepted.</summary>
    public static readonly TimeSpan MinHeartbeatInterval = TimeSpan.FromMilliseconds(10);

    public ValidateOptionsResult Validate(string? name, BrokerOptions o)
    {
        var errors = new List<string>();
        void Check(bool ok, string message) { if (!ok) errors.Add(message); }

        // 10 ms is Akka's scheduler resolution (akka.scheduler.tick-duration): a shorter period is
        // not kept, and welcome announces the interval in whole milliseconds.
        Check(o.Heartbeat.Interval >= MinHeartbeatInterval, "Broker:Heartbeat:Interval must be at least 00:00:00.010 (10 ms)");
        Check(o.Heartbeat.Timeout > TimeSpan.Zero, "Broker:Heartbeat:Timeout must be positive");
        Check(o.Auth.Timeout > TimeSpan.Zero, "Broker:Auth:Timeout must be positive");
        Check(o.Auth.TicketLifetime > TimeSpan.Zero && o.Auth.TicketLifetime <= TimeSpan.FromSeconds(30),
            "Broker:Auth:TicketLifetime must be between 0 and 30 seconds");
        Check(o.Limits.MaxMessageBytes is >= 128 and <= 16 * 1024 * 1024, "Broker:Limits:MaxMessageBytes must be between 128 and 16777216");
        Check(o.Limits.RatePerSecond > 0, "Broker:Limits:RatePerSecond must be positive");
        Check(o.Limits.RateBurst > 0, "Broker:Limits:RateBurst must be positive");
        Check(o.Limits.OutboundQueue > 0, "Broker:Limits:OutboundQueue must be positive");
        Check(o.Limits.OutboundQueueBytes >= 0, "Broker:Limits:OutboundQueueBytes must not be negative (0 = frames only)");
        Check(o.Limits.WriteBatchFrames > 0, "Broker:Limits:WriteBatchFrames must be positive (1 turns batching off)");
        Check(o.Limits.WriteBatchBytes is >= 1024 and <= 16 * 1024 * 1024, "Broker:Limits:WriteBatchBytes must be between 1024 and 16777216");
        Check(o.Limits.MaxRoomsPerConnection > 0, "Broker:Limits:MaxRoomsPerConnection must be positive");
        Check(o.Sse.MaxPostBytes > 0, "Broker:Sse:MaxPostBytes must be positive");
        Check(o.Sse.MaxPostEnvelopes > 0, "Broker:Sse:MaxPostEnvelopes must be positive");
        Check(o.Limits.MaxConnectionsPerUser >= 0, "Broker:Limits:MaxConnectionsPerUser must be 0 (unlimited) or positive");
        Check(o.Limits.MaxConnectionsPerIp >= 0, "Broker:Limits:MaxConnectionsPerIp must be 0 (unlimited) or positive");
        Check(o.Limits.AccessLogQueue >= 1, "Broker:Limits:AccessLogQueue must be at least 1");
        Check(o.Limits.HandlerTimeout > TimeSpan.Zero, "Broker:Limits:HandlerTimeout must be positive");
        Check(o.Limits.AskTimeout > TimeSpan.Zero, "Broker:Limits:AskTimeout must be positive");
        Check(o.Limits.CloseGrace > TimeSpan.Zero, "Broker:Limits:CloseGrace must be positive");
        Check(o.Shutdown.CloseTimeout > TimeSpan.Zero, "Broker:Shutdown:CloseTimeout must be positive");
        Check(o.Auth.TicketTombstone > TimeSpan.Zero, "Broker:Auth:TicketTombstone must be positive");
        Check(o.Auth.RefreshTimeout > TimeSpan.Zero, "Broker:Auth:RefreshTimeout must be positive");
        Check(o.Auth.TicketKey is null || System.Text.Encoding.UTF8.GetByteCount(o.Auth.TicketKey) >= 32, "Broker:Auth:TicketKey must be at least 32 bytes (UTF-8)");
        Check(o.Rooms.HistorySize >= 0, "Broker:Rooms:HistorySize must not be negative");
        Check(o.Rooms.ParallelFanOutThreshold >= 0, "Broker:Rooms:ParallelFanOutThreshold must not be negative");
        Check(o.Rooms.HistoryMaxBytes > 0, "Broker:Rooms:HistoryMaxBytes must be positive");
        Check(o.Rooms.HistoryNodeMaxBytes >= 0, "Broker:Rooms:HistoryNodeMaxBytes must not be negative (0: 1/8 of the memory available)");
        Check(o.Rooms.RejoinInterval >= TimeSpan.FromMilliseconds(10), "Broker:Rooms:RejoinInterval must be at least 00:00:00.010");
        Check(o.Rooms.AnswerTimeout >= TimeSpan.FromMilliseconds(100), "Broker:Rooms:AnswerTimeout must be at least 00:00:00.100");
        Check(o.Rooms.PresenceWindow >= TimeSpan.FromMilliseconds(10), "Broker:Rooms:PresenceWindow must be at least 00:00:00.010");
        Check(o.Rooms.PresenceBurst >= 1, "Broker:Rooms:PresenceBurst must be at least 1");
        Check(Actors.Rooms.PresenceModes.TryParse(o.Rooms.Presence, out _), "Broker:Rooms:Presence must be full, counts or off");
        Check(o.Rooms.MaxPresenceMembers >= 1, "Broker:Rooms:MaxPresenceMembers must be at least 1");
        Check(o.Limits.JoinsPerSecondPerUser > 0, "Broker:Limits:JoinsPerSecondPerUser must be positive");
        Check(o.Limits.JoinBurstPerUser >= 1, "Broker:Limits:JoinBurstPerUser must be at least 1");
        Check(o.Jwt.ClockSkew >= TimeSpan.Zero && o.Jwt.ClockSkew <= TimeSpan.FromSeconds(30),
            "Broker:Jwt:ClockSkew must be between 0 and 30 seconds");
        Check(!string.IsNullOrWhiteSpace(o.Jwt.Issuer), "Broker:Jwt:Issuer is required");
        Check(!string.IsNullOrWhiteSpace(o.Jwt.Audience), "Broker:Jwt:Audience is required");
        if (o.Jwt.SigningKey is { Length: > 0 } key)
            Check(System.Text.Encoding.UTF8.GetByteCount(key) >= 32, "Broker:Jwt:SigningKey must be at least 32 bytes (UTF-8)");
        else if (!environment.IsDevelopment() && o.Jwt.RsaPublicKeys.Count == 0 && string.IsNullOrEmpty(o.Auth.JwtBearerScheme) && o.Routes.Values.Any(r => !r.Anonymous))
            errors.Add("Broker:Jwt:SigningKey (or Broker:Jwt:RsaPublicKeys) must be set outside Development: " +
                       "authenticated routes cannot check tokens without a key. Set Broker__Jwt__SigningKey.");
        Check(o.Routes.Count > 0, "Broker:Routes must define at least one route");
        foreach (var (route, _) in o.Routes)
            Check(Contracts.Protocol.FrameParser.IsValidRoom(route), $"Broker:Routes:{route}: a route name may contain only A-Z a-z 0-9 _ . : -");
        Check(o.Cluster.Port is >= 0 and <= 65535, "Broker:Cluster:Port must be 0..65535");
        ValidateDiscovery(o.Cluster, errors);
        foreach (var url in o.Management.UrlList())
            Check(Observability.ManagementSurface.TryPort(url, out _),
                $"Broker:Management:Urls: '{url}' is not a URL Kestrel can listen on (e.g. http://0.0.0.0:9090)");
        Check(o.Management.ReportTimeout > TimeSpan.Zero && o.Management.ReportTimeout <= TimeSpan.FromSeconds(30),
            "Broker:Management:ReportTimeout must be more than 0 and at most 00:00:30");
        ValidatePersistence(o, errors);

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>Cluster formation (PROTOCOL §9.6): a known method, and what that method needs.</summary>
    private static void ValidateDiscovery(ClusterOptions c, List<string> errors)
    {
        void Check(bool ok, string message) { if (!ok) errors.Add(message); }
        var method = c.EffectiveDiscovery;
        Check(method is ClusterOptions.Seeds or ClusterOptions.Config or ClusterOptions.Kubernetes,
            $"Broker:Cluster:Discovery must be seeds, config or kubernetes (got '{c.Discovery}')");
        if (method == ClusterOptions.Seeds) return;
        Check(string.IsNullOrWhiteSpace(c.SeedNodes),
            $"Broker:Cluster:SeedNodes must be empty with Broker:Cluster:Discovery={method}: Cluster Bootstrap finds the seeds itself");
        Check(c.Bootstrap.Port is > 0 and <= 65535, "Broker:Cluster:Bootstrap:Port must be 1..65535");
        Check(c.Bootstrap.RequiredContactPoints >= 1, "Broker:Cluster:Bootstrap:RequiredContactPoints must be at least 1");
        if (method == ClusterOptions.Config)
        {
            var endpoints = c.Bootstrap.EndpointList();
            Check(endpoints.Length > 0,
                "Broker:Cluster:Bootstrap:Endpoints is required with Broker:Cluster:Discovery=config: every node's host:port of its bootstrap port, comma-separated");
            foreach (var endpoint in endpoints)
                Check(IsHostPort(endpoint), $"Broker:Cluster:Bootstrap:Endpoints: '{endpoint}' is not host:port");
            Check(endpoints.Length == 0 || endpoints.Length >= c.Bootstrap.RequiredContactPoints,
                $"Broker:Cluster:Bootstrap:RequiredContactPoints ({c.Bootstrap.RequiredContactPoints}) is more than Broker:Cluster:Bootstrap:Endpoints lists ({endpoints.Length}): no cluster could ever form");
        }
        else
            Check(!string.IsNullOrWhiteSpace(c.Bootstrap.LabelSelector),
                "Broker:Cluster:Bootstrap:LabelSelector is required with Broker:Cluster:Discovery=kubernetes (e.g. app=broker)");
    }

    private static bool IsHostPort(string endpoint)
    {
        var colon = endpoint.LastIndexOf(':');
        return colon > 0 && int.TryParse(endpoint[(colon + 1)..], out var port) && port is > 0 and <= 65535;
    }

    /// <summary>Durable rooms (PROTOCOL §9.2): a provider that exists, a store every node reaches, a connection string that parses.</summary>
    private static void ValidatePersistence(BrokerOptions o, List<string> errors)
    {
        void Check(bool ok, string message) { if (!ok) errors.Add(message); }
        var provider = o.Persistence.EffectiveProvider(o.Cluster);
        var clustered = o.Cluster.Clustered;
        Check(provider is PersistenceOptions.None or PersistenceOptions.Sqlite or PersistenceOptions.PostgreSql,
            $"Broker:Persistence:Provider must be sqlite, postgresql or none (got '{o.Persistence.Provider}')");
        Check(!(provider == PersistenceOptions.Sqlite && clustered),
            "Broker:Persistence:Provider=sqlite cannot serve a cluster (Broker:Cluster:SeedNodes or Broker:Cluster:Discovery is set): every node must reach the same store. " +
            "Use Broker:Persistence:Provider=postgresql with Broker:Persistence:ConnectionString.");
        if (provider == PersistenceOptions.PostgreSql)
        {
            if (string.IsNullOrWhiteSpace(o.Persistence.ConnectionString))
                errors.Add("Broker:Persistence:ConnectionString is required with Broker:Persistence:Provider=postgresql " +
                           "(e.g. Host=db;Database=broker;Username=broker; the password from Broker__Persistence__ConnectionString in the environment)");
            else
            {
                try { _ = new Npgsql.NpgsqlConnectionStringBuilder(o.Persistence.ConnectionString); }
                catch (ArgumentException e) { errors.Add($"Broker:Persistence:ConnectionString is not a PostgreSQL connection string: {e.Message}"); }
            }
        }
        if (provider == PersistenceOptions.Sqlite && o.Persistence.ConnectionString is { Length: > 0 } sqlite)
        {
            try { _ = new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(sqlite); }
            catch (ArgumentException e) { errors.Add($"Broker:Persistence:ConnectionString is not a SQLite connection string: {e.Message}"); }
        }
        var hasStore = provider is PersistenceOptions.Sqlite or PersistenceOptions.PostgreSql;
        Check(hasStore || o.Rooms.Durable != true,
            "Broker:Rooms:Durable=true needs a store: set Broker:Persistence:Provider (sqlite or postgresql)");
        Check(o.Rooms.HistoryTtl > TimeSpan.Zero, "Broker:Rooms:HistoryTtl must be positive");
        Check(o.Rooms.IdempotencyWindow > TimeSpan.Zero, "Broker:Rooms:IdempotencyWindow must be positive");
        Check(o.Rooms.IdempotencyKeysMax >= 1, "Broker:Rooms:IdempotencyKeysMax must be at least 1");
        Check(o.Persistence.CallTimeout > TimeSpan.Zero, "Broker:Persistence:CallTimeout must be positive");
        Check(o.Persistence.ResetTimeout > TimeSpan.Zero, "Broker:Persistence:ResetTimeout must be positive");
        Check(o.Persistence.StartTimeout >= TimeSpan.Zero, "Broker:Persistence:StartTimeout must not be negative");
        Check(o.Persistence.SnapshotEvery >= 1, "Broker:Persistence:SnapshotEvery must be at least 1");
        foreach (var (ns, settings) in o.Rooms.Namespaces)
        {
            var key = $"Broker:Rooms:Namespaces:{ns}";
            Check(ns.Length > 0 && !ns.Contains(':') && Contracts.Protocol.FrameParser.IsValidRoom(ns),
                $"{key}: a namespace is the part of a room name before its first ':' (A-Z a-z 0-9 _ . -)");
            Check(hasStore || settings.Durable != true, $"{key}:Durable=true needs a store: set Broker:Persistence:Provider (sqlite or postgresql)");
            Check(settings.HistorySize is null or >= 0, $"{key}:HistorySize must not be negative");
            Check(settings.HistoryTtl is null || settings.HistoryTtl > TimeSpan.Zero, $"{key}:HistoryTtl must be positive");
            Check(settings.Presence is null || Actors.Rooms.PresenceModes.TryParse(settings.Presence, out _), $"{key}:Presence must be full, counts or off");
        }
    }
}
