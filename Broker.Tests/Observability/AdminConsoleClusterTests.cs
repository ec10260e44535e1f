using System.Net;
using System.Net.Http.Json;
using Broker.Contracts.Protocol;
using Broker.Tests.Cluster;

namespace Broker.Tests.Observability;

/// <summary>A three-node cluster whose heartbeat is short (1 s), so a silent client is cut off within seconds.</summary>
public sealed class AdminConsoleClusterFixture : IAsyncLifetime
{
    public const string ApiKey = "admin-console-cluster-key-0123456789";

    public ThreeNodeCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync() => Cluster = await ThreeNodeCluster.StartAsync(new Dictionary<string, string?>
    {
        ["Broker:ApiKey"] = ApiKey,
        ["Broker:Heartbeat:Interval"] = "00:00:01",
        ["Broker:Heartbeat:Timeout"] = "00:00:01",
    });

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

/// <summary>
/// The console's whole-cluster view (<c>/admin/cluster</c>, <c>/admin/users/{user}</c>) asked on one
/// node of a real three-node loopback cluster: every member with its own figures, rooms counted
/// across nodes, a user found on two nodes and disconnected, and the cut-offs that follow.
/// </summary>
[Trait("Category", "Cluster")]
public sealed class AdminConsoleClusterTests(AdminConsoleClusterFixture fixture) : IClassFixture<AdminConsoleClusterFixture>, IAsyncLifetime
{
    private const string ApiKey = AdminConsoleClusterFixture.ApiKey;
    private readonly List<TestClient> _clients = [];
    private ClusterNode[] Nodes => fixture.Cluster.Nodes;

    public Task InitializeAsync() => Task.CompletedTask;

    /// <summary>Every client a test opened is closed after it, passed or failed: the next test counts connections.</summary>
    public async Task DisposeAsync()
    {
        foreach (var client in _clients) await client.DisposeAsync();
    }

    private async Task<TestClient> ConnectAsync(int node, string user, bool autoPong = true)
    {
        var client = await TestClient.ConnectAuthenticatedAsync(Nodes[node].WebSocketUri(), TestTokens.Valid(user), autoPong);
        _clients.Add(client);
        return client;
    }

    [Fact]
    public async Task The_report_from_one_node_lists_every_member_with_its_own_connection_count()
    {
        var clients = new List<TestClient>();
        int[] perNode = [1, 2, 3];
        for (var node = 0; node < 3; node++)
        for (var i = 0; i < perNode[node]; i++)
            clients.Add(await ConnectAsync(node, $"count-{node}-{i}"));

        JsonElement report = default;
        await Eventually.TrueAsync(async () =>
        {
            report = await AdminApi.GetAsync(Nodes[0].BaseUri, "/admin/cluster", ApiKey);
            return Nodes.Select((n, i) => AdminApi.Member(report, n.Name) is { } m && m.Bool("answered") && m.GetProperty("connections").GetInt32() == perNode[i])
                .All(ok => ok);
        }, TimeSpan.FromSeconds(15), "every node's connection count in the report from the first node");

        Assert.Equal(3, report.GetProperty("members").GetArrayLength());
        Assert.Equal(Nodes[0].Name, report.Str("self"));
        foreach (var node in Nodes)
        {
            var member = AdminApi.Member(report, node.Name)!.Value;
            Assert.Equal("Up", member.Str("status"));
            Assert.True(member.Bool("reachable"));
            Assert.Equal(node.Address.ToString(), member.Str("address"));
            Assert.Contains("broker", member.Strings("roles"));
            Assert.Equal(node == Nodes[0], member.Bool("isSelf"));
            Assert.True(member.GetProperty("samples").GetArrayLength() > 0, $"{node.Name} has no samples");
        }
        Assert.Single(report.GetProperty("members").EnumerateArray(), m => m.Bool("isLeader"));
        Assert.Equal(report.Str("leader"), report.GetProperty("members").EnumerateArray().Single(m => m.Bool("isLeader")).Str("node"));

    }

    [Fact]
    public async Task The_samples_follow_the_connections_second_by_second()
    {
        var node = Nodes[1];
        var before = await LatestConnectionsAsync(node);
        var clients = new List<TestClient>();
        for (var i = 0; i < 4; i++)
            clients.Add(await ConnectAsync(1, $"sample-{i}"));
        await Eventually.TrueAsync(async () => await LatestConnectionsAsync(node) == before + 4, TimeSpan.FromSeconds(10), "a sample with the four new connections");
        foreach (var client in clients) await client.DisposeAsync();
        await Eventually.TrueAsync(async () => await LatestConnectionsAsync(node) == before, TimeSpan.FromSeconds(10), "a sample without them");
    }

    [Fact]
    public async Task Busiest_rooms_count_the_members_of_every_node()
    {
        var busy = $"busy-{Guid.NewGuid():N}";
        var quiet = $"quiet-{Guid.NewGuid():N}";
        var clients = new List<TestClient>();
        async Task JoinAsync(int node, string user, string room)
        {
            var client = await ConnectAsync(node, user);
            await client.JoinAsync(room);
            clients.Add(client);
        }
        await JoinAsync(0, "busy-a", busy);
        await JoinAsync(0, "busy-b", busy);
        await JoinAsync(1, "busy-c", busy);
        await JoinAsync(2, "busy-d", busy);
        await JoinAsync(2, "busy-e", busy);
        await JoinAsync(2, "busy-f", busy);
        await JoinAsync(1, "quiet-a", quiet);

        JsonElement rooms = default;
        await Eventually.TrueAsync(async () =>
        {
            rooms = (await AdminApi.GetAsync(Nodes[1].BaseUri, "/admin/cluster", ApiKey)).GetProperty("rooms");
            return rooms.EnumerateArray().Any(r => r.Str("room") == busy && r.GetProperty("connections").GetInt32() == 6);
        }, TimeSpan.FromSeconds(10), "the busy room with its six members on three nodes");

        var listed = rooms.EnumerateArray().Select(r => r.Str("room")).ToList();
        Assert.True(listed.IndexOf(busy) < listed.IndexOf(quiet), $"busy before quiet in {string.Join(",", listed)}");
        var byNode = rooms.EnumerateArray().Single(r => r.Str("room") == busy).GetProperty("byNode");
        Assert.Equal(2, byNode.GetProperty(Nodes[0].Name).GetInt32());
        Assert.Equal(1, byNode.GetProperty(Nodes[1].Name).GetInt32());
        Assert.Equal(3, byNode.GetProperty(Nodes[2].Name).GetInt32());

        // Leaving and closing take members out of the count.
        await clients[0].SendAsync(new { type = "leave", id = "l", data = new { room = busy } });
        await clients[0].ReceiveAsync("left");
        await clients[5].DisposeAsync();
        await Eventually.TrueAsync(async () =>
        {
            var now = (await AdminApi.GetAsync(Nodes[0].BaseUri, "/admin/cluster", ApiKey)).GetProperty("rooms");
            return now.EnumerateArray().Any(r => r.Str("room") == busy && r.GetProperty("connections").GetInt32() == 4);
        }, TimeSpan.FromSeconds(10), "the busy room down to four after a leave and a close");

    }

    [Fact]
    public async Task A_user_on_two_nodes_is_found_and_disconnected_and_the_cut_offs_are_listed()
    {
        var user = $"lookup-{Guid.NewGuid():N}"[..20];
        var first = await ConnectAsync(1, user);
        var second = await ConnectAsync(2, user);
        await first.JoinAsync("lookup-lobby");
        await second.JoinAsync("lookup-news");

        JsonElement found = default;
        await Eventually.TrueAsync(async () =>
        {
            found = await AdminApi.GetAsync(Nodes[0].BaseUri, $"/admin/users/{user}", ApiKey);
            return found.GetProperty("connections").GetArrayLength() == 2 && found.Strings("rooms").Length == 2;
        }, TimeSpan.FromSeconds(10), "both connections and both rooms in the lookup");
        Assert.True(found.Bool("online"));
        Assert.Equal(new[] { Nodes[1].Name, Nodes[2].Name }.Order(StringComparer.Ordinal), found.Strings("nodes"));
        Assert.Equal(["lookup-lobby", "lookup-news"], found.Strings("rooms"));
        var onSecond = found.GetProperty("connections").EnumerateArray().Single(c => c.Str("node") == Nodes[2].Name);
        Assert.Equal(["lookup-news"], onSecond.Strings("rooms"));
        Assert.Equal(second.Welcome.Str("connection"), onSecond.Str("connectionId"));

        using var disconnect = await AdminApi.SendAsync(Nodes[0].BaseUri, HttpMethod.Post, $"/admin/users/{user}/disconnect", ApiKey);
        Assert.Equal(HttpStatusCode.Accepted, disconnect.StatusCode);
        Assert.Equal(2, (await disconnect.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("disconnected").GetInt32());
        foreach (var socket in new[] { first, second })
        {
            var close = await socket.ExpectCloseAsync();
            Assert.Equal(CloseCodes.Disconnected, close.Status);
        }

        var after = await AdminApi.GetAsync(Nodes[0].BaseUri, $"/admin/users/{user}", ApiKey);
        Assert.False(after.Bool("online"));
        Assert.Equal(0, after.GetProperty("connections").GetArrayLength());

        JsonElement report = default;
        await Eventually.TrueAsync(async () =>
        {
            report = await AdminApi.GetAsync(Nodes[0].BaseUri, "/admin/cluster", ApiKey);
            return AdminApi.RecentCutOffs(report).Count(c => c.GetProperty("user").GetString() == user) == 2;
        }, TimeSpan.FromSeconds(10), "both of the user's cut-offs in the recent list");
        var cutOffs = AdminApi.RecentCutOffs(report).Where(c => c.GetProperty("user").GetString() == user).ToArray();
        Assert.All(cutOffs, c => Assert.Equal((CloseCodes.Disconnected, Close.Disconnected.Reason), (c.GetProperty("code").GetInt32(), c.Str("reason"))));
        Assert.Equal(new[] { Nodes[1].Name, Nodes[2].Name }.Order(StringComparer.Ordinal), cutOffs.Select(c => c.Str("node")).Order(StringComparer.Ordinal));
        Assert.Contains(report.GetProperty("cutOffs").GetProperty("counts").EnumerateArray(),
            c => c.GetProperty("code").GetInt32() == CloseCodes.Disconnected && c.Str("reason") == "disconnected" && c.GetProperty("count").GetInt64() >= 2);

    }

    [Fact]
    public async Task A_silent_client_cut_off_by_the_heartbeat_is_listed_with_its_reason()
    {
        var user = $"silent-{Guid.NewGuid():N}"[..20];
        var silent = await ConnectAsync(2, user, autoPong: false);
        var close = await silent.ExpectCloseAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(CloseCodes.Policy, close.Status);

        JsonElement cutOff = default;
        await Eventually.TrueAsync(async () =>
        {
            var report = await AdminApi.GetAsync(Nodes[0].BaseUri, "/admin/cluster", ApiKey);
            cutOff = AdminApi.RecentCutOffs(report).FirstOrDefault(c => c.GetProperty("user").GetString() == user);
            return cutOff.ValueKind == JsonValueKind.Object;
        }, TimeSpan.FromSeconds(10), "the heartbeat cut-off in the recent list");
        Assert.Equal(CloseCodes.Policy, cutOff.GetProperty("code").GetInt32());
        Assert.Equal(Close.HeartbeatTimeout.Reason, cutOff.Str("reason"));
        Assert.Equal(Nodes[2].Name, cutOff.Str("node"));
        Assert.Equal("chat", cutOff.Str("route"));
    }

    [Fact]
    public async Task A_lookup_of_nobody_is_an_empty_answer_and_bad_input_is_400()
    {
        var nobody = await AdminApi.GetAsync(Nodes[1].BaseUri, "/admin/users/nobody-here", ApiKey);
        Assert.False(nobody.Bool("online"));
        Assert.Equal(0, nobody.GetProperty("connections").GetArrayLength());

        using var tooLong = await AdminApi.SendAsync(Nodes[1].BaseUri, HttpMethod.Get, "/admin/users/" + new string('u', 257), ApiKey);
        Assert.Equal(HttpStatusCode.BadRequest, tooLong.StatusCode);
        Assert.False(string.IsNullOrEmpty((await tooLong.Content.ReadFromJsonAsync<JsonElement>()).Str("error")));
        using var badBody = await AdminApi.SendAsync(Nodes[1].BaseUri, HttpMethod.Post, "/admin/users/nobody-here/disconnect", ApiKey, body: "{\"reconnect\":\"maybe\"}");
        Assert.Equal(HttpStatusCode.BadRequest, badBody.StatusCode);
        Assert.False(string.IsNullOrEmpty((await badBody.Content.ReadFromJsonAsync<JsonElement>()).Str("error")));
    }

    private async Task<int> LatestConnectionsAsync(ClusterNode node)
    {
        var report = await AdminApi.GetAsync(Nodes[0].BaseUri, "/admin/cluster", ApiKey);
        var samples = AdminApi.Member(report, node.Name)!.Value.GetProperty("samples");
        return samples[samples.GetArrayLength() - 1].GetProperty("connections").GetInt32();
    }
}

/// <summary>A node that crashed: the console on a survivor keeps answering, and shows it as not answering until the cluster removes it.</summary>
[Trait("Category", "Cluster")]
public sealed class AdminConsoleNodeDownTests
{
    private const string ApiKey = "admin-console-down-key-0123456789";

    [Fact]
    public async Task A_crashed_node_shows_as_not_answering_and_the_report_still_answers_in_time()
    {
        var reportTimeout = TimeSpan.FromMilliseconds(500);
        await using var cluster = await ThreeNodeCluster.StartAsync(new Dictionary<string, string?>
        {
            ["Broker:ApiKey"] = ApiKey,
            ["Broker:Management:ReportTimeout"] = reportTimeout.ToString(),
        });
        var (survivor, victim) = (cluster.Nodes[0], cluster.Nodes[2]);
        await Eventually.TrueAsync(async () =>
            (await AdminApi.GetAsync(survivor.BaseUri, "/admin/cluster", ApiKey)).GetProperty("members").EnumerateArray().All(m => m.Bool("answered")),
            TimeSpan.FromSeconds(10), "every node answering before the crash");

        await victim.CrashAsync();

        string? problem = null;
        await Eventually.TrueAsync(async () =>
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            using var response = await AdminApi.SendAsync(survivor.BaseUri, HttpMethod.Get, "/admin/cluster", ApiKey);
            var took = System.Diagnostics.Stopwatch.GetElapsedTime(started);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.True(took < reportTimeout + TimeSpan.FromSeconds(2), $"the report took {took}");
            var report = await response.Content.ReadFromJsonAsync<JsonElement>();
            if (AdminApi.Member(report, victim.Name) is not { } member || member.Bool("answered")) return false;
            problem = member.GetProperty("problem").GetString();
            Assert.True(AdminApi.Member(report, survivor.Name)!.Value.Bool("answered"));
            return true;
        }, TimeSpan.FromSeconds(20), "the crashed node listed as not answering");
        Assert.False(string.IsNullOrEmpty(problem));
    }
}
