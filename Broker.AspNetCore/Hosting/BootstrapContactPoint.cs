using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster;
using Akka.Management.Cluster.Bootstrap.ContactPoint;
using Broker.AspNetCore.Configuration;
using Microsoft.Extensions.Options;
using Newtonsoft.Json;
using static Akka.Management.Cluster.Bootstrap.ContactPoint.HttpBootstrapJsonProtocol;

namespace Broker.AspNetCore.Hosting;

/// <summary>
/// The node's Cluster Bootstrap contact point: <c>GET /bootstrap/seed-nodes</c> on
/// <c>Broker:Cluster:Bootstrap:Port</c>, which the other nodes' bootstrap probes to learn the cluster
/// this node is in. Akka.Management serves it with its own HTTP server, but that server (Ceen.Httpd)
/// cannot start with the Ceen.Httpd this package source has (0.9.10 instead of 0.9.9: a
/// MissingMethodException at start-up), so a small Kestrel of our own serves the same route with
/// the same JSON (Akka.Management's own types, serialized as it does), and nothing else.
/// </summary>
public sealed class BootstrapContactPoint(IOptions<BrokerOptions> options, IServiceProvider services, ILogger<BootstrapContactPoint> log) : IHostedService
{
    /// <summary>At most this many members in an answer (Akka.Management's default).</summary>
    private const int MaxSeedNodesToExpose = 5;

    private WebApplication? _server;

    /// <summary>The URL the contact point listens on: the cluster hostname (or every address on Kubernetes) and the bootstrap port.</summary>
    public static string ListenUrl(ClusterOptions cluster) =>
        $"http://{(cluster.EffectiveDiscovery == ClusterOptions.Kubernetes ? "0.0.0.0" : cluster.Hostname)}:{cluster.Bootstrap.Port}";

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var cluster = options.Value.Cluster;
        if (cluster.EffectiveDiscovery == ClusterOptions.Seeds) return;
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        // Nothing of the app's configuration: its Kestrel endpoints and URLs are the app's, not this listener's.
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["urls"] = ListenUrl(cluster) });
        builder.Logging.ClearProviders();
        var server = builder.Build();
        server.MapGet("/bootstrap/seed-nodes", () => Results.Content(SeedNodesJson(), "application/json"));
        await server.StartAsync(cancellationToken);
        _server = server;
        log.LogInformation("Cluster Bootstrap contact point listening on {Url}", ListenUrl(cluster));
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_server is { } server) await server.DisposeAsync();
    }

    /// <summary>What Akka.Management's <c>HttpClusterBootstrapRoutes</c> answers: this node and the members a joiner may use as seeds.</summary>
    private string SeedNodesJson()
    {
        var cluster = Akka.Cluster.Cluster.Get(services.GetRequiredService<ActorSystem>());
        var self = cluster.SelfMember;
        if (self.Status is MemberStatus.Down or MemberStatus.Exiting or MemberStatus.Leaving or MemberStatus.Removed)
            return JsonConvert.SerializeObject(new SeedNodes(self.UniqueAddress.Address, ImmutableList<ClusterMember>.Empty));
        var state = cluster.State;
        var members = state.Members
            .Where(m => !state.Unreachable.Contains(m) && m.Status is MemberStatus.Up or MemberStatus.WeaklyUp or MemberStatus.Joining)
            .Take(MaxSeedNodesToExpose)
            .Select(m => new ClusterMember(m.UniqueAddress.Address, m.UniqueAddress.Uid, m.Status, m.Roles))
            .ToImmutableList();
        return JsonConvert.SerializeObject(new SeedNodes(self.UniqueAddress.Address, members));
    }
}
