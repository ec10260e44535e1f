using Akka.Discovery.Config.Hosting;
using Akka.Discovery.KubernetesApi;
using Akka.Hosting;
using Akka.Management.Cluster.Bootstrap;
using Broker.AspNetCore.Configuration;

namespace Broker.AspNetCore.Hosting;

/// <summary>
/// How a node finds its cluster (PROTOCOL §9.6). With <c>seeds</c> nothing is added: the seed list
/// is Akka's own mechanism (a single seed that restarts forms a cluster of its own, so every node
/// must list the same two or more). With <c>config</c> or <c>kubernetes</c>, Akka.Management's
/// Cluster Bootstrap runs, its contact point served by <see cref="BootstrapContactPoint"/>: a node
/// asks every contact point for the cluster it is in and
/// joins that one; only when none answers with a cluster, and every contact point has been heard
/// from, does the node with the lowest address form it. So nodes may start in any order, and a
/// restarted node always finds the cluster the others kept running.
/// </summary>
public static class ClusterFormation
{
    /// <summary>The discovery service name the nodes look each other up under.</summary>
    public const string ServiceName = "broker";

    /// <summary>The Kubernetes container port name of the bootstrap port (deploy/kubernetes).</summary>
    public const string KubernetesPortName = "management";

    public static AkkaConfigurationBuilder WithClusterFormation(this AkkaConfigurationBuilder akka, ClusterOptions cluster)
    {
        var method = cluster.EffectiveDiscovery;
        if (method == ClusterOptions.Seeds) return akka;
        var bootstrap = cluster.Bootstrap;

        if (method == ClusterOptions.Config)
        {
            akka.WithConfigDiscovery(options =>
            {
                options.Services.Add(new Service { Name = ServiceName, Endpoints = bootstrap.EndpointList() });
            });
        }
        else
        {
            akka.WithKubernetesDiscovery(options =>
            {
                options.PodLabelSelector = bootstrap.LabelSelector!;
                if (bootstrap.Namespace is { Length: > 0 } ns) options.PodNamespace = ns;
            });
        }

        akka.WithClusterBootstrap(options =>
        {
            options.ContactPointDiscovery.ServiceName = ServiceName;
            options.ContactPointDiscovery.RequiredContactPointsNr = bootstrap.RequiredContactPoints;
            if (method == ClusterOptions.Kubernetes) options.ContactPointDiscovery.PortName = KubernetesPortName;
            // Config discovery lists the bootstrap ports themselves: probe exactly those.
            options.ContactPoint.FilterOnFallbackPort = method == ClusterOptions.Kubernetes;
        }, autoStart: false);
        akka.AddStartup(async (system, _) =>
        {
            // Akka.Management would tell bootstrap its own contact point when its HTTP server binds;
            // ours is BootstrapContactPoint, so say it here (the lowest contact point forms the cluster).
            var bootstrapper = ClusterBootstrap.Get(system);
            bootstrapper.Routes(Akka.Management.Dsl.ManagementRouteProviderSettings.Create(
                new Uri($"http://{cluster.Hostname}:{bootstrap.Port}/"), readOnly: true));
            await bootstrapper.Start();
        });
        return akka;
    }
}
