using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Broker.AspNetCore.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Broker.Tests.Cluster;

/// <summary>
/// One broker node for multi-node tests: the real host (Kestrel on 127.0.0.1, a random port) with
/// its own ActorSystem, joined to the others over real Akka.Remote on loopback.
/// </summary>
public sealed class ClusterNode : IAsyncDisposable
{
    public const string SigningKey = "cluster-tests-signing-key-0123456789abcdef";
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    private ClusterNode(WebApplication app, Uri baseUri)
    {
        App = app;
        BaseUri = baseUri;
        Broker = app.Services.GetRequiredService<BrokerNode>();
    }

    public WebApplication App { get; }
    public Uri BaseUri { get; }
    public BrokerNode Broker { get; }
    public string Name => Broker.NodeName;
    public Address Address => Akka.Cluster.Cluster.Get(Broker.System).SelfAddress;
    public bool Stopped { get; private set; }

    public Uri WebSocketUri(string route = "chat") => new($"ws://{BaseUri.Authority}/ws/{route}");

    public static async Task<ClusterNode> StartAsync(int akkaPort, string seeds, IDictionary<string, string?>? extra = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Development" });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        if (Environment.GetEnvironmentVariable("BROKER_TEST_LOGS") is not null) builder.Logging.AddConsole().SetMinimumLevel(LogLevel.Debug);
        var config = new Dictionary<string, string?>
        {
            ["Broker:Jwt:SigningKey"] = SigningKey,
            ["Broker:Cluster:Hostname"] = "127.0.0.1",
            ["Broker:Cluster:Port"] = akkaPort.ToString(),
            ["Broker:Cluster:SeedNodes"] = seeds,
            // Detect and down a crashed node in seconds, not the production defaults.
            ["Broker:Akka:Hocon"] = """
                akka.cluster.split-brain-resolver.stable-after = 2s
                akka.cluster.failure-detector.acceptable-heartbeat-pause = 2s
                akka.coordinated-shutdown.run-by-actor-system-terminate = off
                """,
        };
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>()) config[key] = value;
        builder.Configuration.AddInMemoryCollection(config);
        builder.Services.AddBroker(builder.Configuration, builder.Environment);
        var app = builder.Build();
        app.MapBroker();
        await app.StartAsync().WaitAsync(TimeSpan.FromSeconds(30));
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new ClusterNode(app, new Uri(address));
    }

    /// <summary>A development token for <paramref name="user"/> (optionally with scopes).</summary>
    public async Task<string> TokenAsync(string user, string? scope = null)
    {
        var url = new Uri(BaseUri, $"/auth/dev-token?user={Uri.EscapeDataString(user)}" + (scope is null ? "" : $"&scope={Uri.EscapeDataString(scope)}"));
        using var response = await Http.PostAsync(url, null);
        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadFromJsonAsync<Dictionary<string, object>>();
        return body!["token"].ToString()!;
    }

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
        await App.StopAsync(new CancellationToken(canceled: true)).WaitAsync(TimeSpan.FromSeconds(20));
        await App.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20));
    }

    /// <summary>A graceful stop, as on SIGTERM: sockets close with 1001, the node leaves and hands off.</summary>
    public async Task StopGracefullyAsync()
    {
        Stopped = true;
        await App.StopAsync().WaitAsync(TimeSpan.FromSeconds(40));
        await App.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20));
    }

    public async ValueTask DisposeAsync()
    {
        Console.WriteLine("TRACE dispose " + Name + " " + DateTime.Now.ToString("HH:mm:ss.fff"));
        if (Stopped) return;
        Stopped = true;
        try { await App.StopAsync(new CancellationToken(canceled: true)).WaitAsync(TimeSpan.FromSeconds(30)); }
        catch (Exception) { /* already failing; the test result says why */ }
        await App.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        Console.WriteLine("TRACE disposed " + Name + " " + DateTime.Now.ToString("HH:mm:ss.fff"));
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
        using var http = new HttpClient { Timeout = WsClient.Timeout };
        http.DefaultRequestHeaders.Authorization = new("Bearer", await seed.TokenAsync("placer", "broker:publish"));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            var room = $"room-{Guid.NewGuid():N}";
            (await http.GetAsync(new Uri(seed.BaseUri, $"/api/rooms/{room}"))).EnsureSuccessStatusCode();
            if (wanted(await HostOfAsync(room))) return room;
        }
        throw new InvalidOperationException("no room landed on the wanted node");
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes.Reverse()) await node.DisposeAsync();
    }
}

/// <summary>Waits for a condition by polling with a deadline (never a fixed sleep).</summary>
public static class Eventually
{
    public static Task TrueAsync(Func<bool> condition, TimeSpan within, string what) =>
        TrueAsync(() => Task.FromResult(condition()), within, what);

    public static async Task TrueAsync(Func<Task<bool>> condition, TimeSpan within, string what)
    {
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            if (await condition()) return;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"not true within {within}: {what}");
            await Task.Delay(50);
        }
    }
}
