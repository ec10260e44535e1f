using System.Net.Sockets;
using Xunit.Abstractions;

namespace Broker.Tests.Cluster;

/// <summary>
/// Cluster formation by Akka.Management Cluster Bootstrap with <c>config</c> discovery (PROTOCOL
/// §9.6) on three real node processes and no seed list: nodes started one by one in an order
/// that is not their address order form one cluster, and the node that formed it, SIGKILLed and
/// started again while the others run, joins their cluster instead of forming its own (the split
/// a single static seed gives: issue #20).
/// </summary>
[Collection(BootstrapNodesCollection.Name)]
[Trait("Category", "Cluster")]
public sealed class ClusterBootstrapTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Three_nodes_started_in_any_order_form_one_cluster_and_a_restarted_node_rejoins_it()
    {
        await using var cluster = BrokerProcessCluster.CreateBootstrapped("bootstrap", 3, new Dictionary<string, string>());
        output.WriteLine($"logs: {cluster.LogDirectory}");
        // The lowest contact point is the one that forms the cluster: start it last, so the others
        // are up and probing first and must wait for it rather than form clusters of their own.
        var byAddress = cluster.Nodes.OrderBy(n => n.BootstrapPort).ToArray();
        var order = new[] { byAddress[2], byAddress[1], byAddress[0] };
        foreach (var node in order)
        {
            await node.StartAsync(untilReady: false);
            await BootstrapPortListensAsync(node);
            output.WriteLine($"{node} started (bootstrap {node.BootstrapPort})");
        }
        await cluster.WaitForMembersAsync(3);

        var first = byAddress[0];
        first.Kill();
        await cluster.WaitForMembersAsync(2);
        await first.StartAsync();
        // Every node, the restarted one included, sees the same three members: one cluster.
        await cluster.WaitForMembersAsync(3);
    }

    [Fact]
    public async Task A_node_started_alone_does_not_form_a_cluster_while_the_others_are_not_up()
    {
        await using var cluster = BrokerProcessCluster.CreateBootstrapped("bootstrap-alone", 3, new Dictionary<string, string>());
        var lowest = cluster.Nodes.OrderBy(n => n.BootstrapPort).First();
        await lowest.StartAsync(untilReady: false);
        await BootstrapPortListensAsync(lowest);
        // It has heard from itself only; the other contact points do not answer, so it waits
        // (contact-with-all-contact-points) and reports not ready, for many probe intervals.
        for (var i = 0; i < 10; i++)
        {
            using var response = await lowest.Http.GetAsync("health/ready");
            Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal(0, await lowest.MetricAsync("broker_cluster_members", "status=\"up\""));
            await Task.Delay(500); // the scenario's time passing (probe interval 500 ms), not a wait for a condition
        }
        await Task.WhenAll(cluster.Nodes.Where(n => n != lowest).Select(n => n.StartAsync(untilReady: false)));
        await cluster.WaitForMembersAsync(3);
    }

    private static Task BootstrapPortListensAsync(BrokerProcess node) => Eventually.TrueAsync(async () =>
    {
        using var tcp = new TcpClient();
        try
        {
            await tcp.ConnectAsync("127.0.0.1", node.BootstrapPort);
            return true;
        }
        catch (SocketException) { return false; }
    }, TimeSpan.FromSeconds(30), $"{node}'s bootstrap port {node.BootstrapPort} accepts connections");
}

/// <summary>Node-process cluster tests run alone, after the parallel part of the suite (see DurableNodesCollection).</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class BootstrapNodesCollection
{
    public const string Name = "bootstrap-nodes";
}
