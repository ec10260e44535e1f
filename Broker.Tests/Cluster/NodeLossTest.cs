namespace Broker.Tests.Cluster;

/// <summary>
/// A fresh three-node cluster per test, with the roles node-loss tests give its nodes: the seed
/// (never killed: a single seed that restarts forms a cluster of its own), the victim and a survivor.
/// </summary>
public abstract class NodeLossTest : IAsyncLifetime
{
    protected ThreeNodeCluster Cluster { get; private set; } = null!;

    protected ClusterNode Seed => Cluster.Nodes[0];
    protected ClusterNode Victim => Cluster.Nodes[1];
    protected ClusterNode Survivor => Cluster.Nodes[2];

    public async Task InitializeAsync() => Cluster = await ThreeNodeCluster.StartAsync();
    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}
