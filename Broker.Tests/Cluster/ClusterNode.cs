using System.Net;
using System.Net.Sockets;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Broker.AspNetCore.Hosting;
using Microsoft.AspNetCore.Builder;

namespace Broker.Tests.Cluster;

/// <summary>One broker node for multi-node tests: a <see cref="BrokerTestHost"/> cluster member, and what the cluster tests ask of it.</summary>
public sealed class ClusterNode : IAsyncDisposable
{
    private ClusterNode(BrokerTestHost host)
    {
        Host = host;
        Broker = host.Node;
    }

    public BrokerTestHost Host { get; }
    public WebApplication App => Host.App;
    public Uri BaseUri => Host.BaseUri;
    public BrokerNode Broker { get; }
    public string Name => Broker.NodeName;
    public Address Address => Akka.Cluster.Cluster.Get(Broker.System).SelfAddress;
    public bool Stopped { get; private set; }

    public Uri WebSocketUri(string route = "chat") => Host.WebSocketUri(route);

    public static async Task<ClusterNode> StartAsync(int akkaPort, string seeds, IDictionary<string, string?>? extra = null) =>
        new(await BrokerTestHost.StartClusterNodeAsync(akkaPort, seeds, extra));

    /// <summary>Members this node sees as Up.</summary>
    public int UpMembers() => Stopped ? 0 : Akka.Cluster.Cluster.Get(Broker.System).State.Members.Count(m => m.Status == MemberStatus.Up);

    /// <summary>Members this node sees as unreachable.</summary>
    public int UnreachableMembers() => Stopped ? 0 : Akka.Cluster.Cluster.Get(Broker.System).State.Unreachable.Count;

    /// <summary>Whether this node hosts <paramref name="room"/> right now.</summary>
    public Task<bool> HostsRoomAsync(string room) => HostsEntityAsync("rooms", room);

    /// <summary>Whether this node hosts <paramref name="user"/>'s directory entry right now.</summary>
    public Task<bool> HostsUserAsync(string user) => HostsEntityAsync("users", user);

    private async Task<bool> HostsEntityAsync(string typeName, string entityId)
    {
        if (Stopped) return false;
        var region = ClusterSharding.Get(Broker.System).ShardRegion(typeName);
        var state = await region.Ask<CurrentShardRegionState>(GetShardRegionState.Instance, TimeSpan.FromSeconds(5));
        return state.Shards.Any(s => s.EntityIds.Contains(entityId));
    }

    /// <summary>
    /// A crash: the actor system dies without leaving the cluster or handing off shards, then
    /// Kestrel drops every socket without a close frame. The survivors must detect it themselves.
    /// </summary>
    public async Task CrashAsync()
    {
        Stopped = true;
        await Broker.System.Terminate().WaitAsync(TimeSpan.FromSeconds(20));
        await Host.AbortAsync();
    }

    /// <summary>A graceful stop, as on SIGTERM: sockets close with 1001, the node leaves and hands off.</summary>
    public async Task StopGracefullyAsync()
    {
        Stopped = true;
        await Host.DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (Stopped) return;
        Stopped = true;
        await Host.AbortAsync();
    }

    /// <summary>A free TCP port on loopback (for the seed node's Akka.Remote port).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>Three nodes joined over loopback: the first is the seed, the others join it.</summary>
public sealed class ThreeNodeCluster : IAsyncDisposable
{
    private ThreeNodeCluster(ClusterNode[] nodes) => Nodes = nodes;

    public ClusterNode[] Nodes { get; }

    public static async Task<ThreeNodeCluster> StartAsync(IDictionary<string, string?>? extra = null)
    {
        var seedPort = ClusterNode.FreePort();
        var seeds = $"akka.tcp://broker@127.0.0.1:{seedPort}";
        var seed = await ClusterNode.StartAsync(seedPort, seeds, extra);
        var others = await Task.WhenAll(ClusterNode.StartAsync(0, seeds, extra), ClusterNode.StartAsync(0, seeds, extra));
        var cluster = new ThreeNodeCluster([seed, .. others]);
        await Eventually.TrueAsync(() => cluster.Nodes.All(n => n.UpMembers() == 3), TimeSpan.FromSeconds(40), "three Up members on every node");
        return cluster;
    }

    /// <summary>The node hosting <paramref name="room"/>, once some member has made it exist.</summary>
    public async Task<ClusterNode> HostOfAsync(string room)
    {
        ClusterNode? host = null;
        await Eventually.TrueAsync(async () =>
        {
            foreach (var node in Nodes)
                if (await node.HostsRoomAsync(room)) { host = node; return true; }
            return false;
        }, TimeSpan.FromSeconds(10), $"room {room} hosted somewhere");
        return host!;
    }

    /// <summary>
    /// Makes fresh rooms exist (the presence API starts the room) until one is hosted where
    /// <paramref name="wanted"/> says. A node's shard region registers with the coordinator a
    /// little after it joins, so this keeps trying for a while rather than a fixed number of times.
    /// </summary>
    public async Task<string> NewRoomHostedWhereAsync(Func<ClusterNode, bool> wanted)
    {
        var seed = Nodes[0];
        using var http = new HttpClient { Timeout = TestClient.DefaultTimeout };
        http.DefaultRequestHeaders.Authorization = new("Bearer", TestTokens.Valid("placer", scope: "broker:publish"));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            var room = $"room-{Guid.NewGuid():N}";
            using var response = await http.GetAsync(new Uri(seed.BaseUri, $"/api/rooms/{room}"));
            // 503 unavailable is PROTOCOL §9.1's "retry": on a just-formed cluster a room's first
            // answer can outlast the ask timeout while the shard is being allocated.
            if (response.StatusCode == System.Net.HttpStatusCode.ServiceUnavailable) continue;
            response.EnsureSuccessStatusCode();
            if (wanted(await HostOfAsync(room))) return room;
        }
        throw new InvalidOperationException("no room landed on the wanted node");
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes.Reverse()) await node.DisposeAsync();
    }
}
