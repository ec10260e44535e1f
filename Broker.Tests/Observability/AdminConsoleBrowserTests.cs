using Broker.Contracts.Protocol;
using Broker.Tests.Demo;
using Broker.Tests.JsClient;
using Xunit.Abstractions;

namespace Broker.Tests.Observability;

/// <summary>Node-process console tests run alone, after the parallel part of the suite, like the other node-process tests.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AdminConsoleNodesCollection
{
    public const string Name = "admin-console-nodes";
}

/// <summary>
/// The operator console in headless Chromium, driven by <c>e2e/browser/admin-console.e2e.mjs</c>,
/// on a live three-node cluster of real broker processes (so each node's rates are its own):
/// without credentials <c>/admin</c> is a 401 sign-in page; signed in with the API key it shows
/// three members, charts that move, the busiest room, a user found on two nodes, and the user's
/// connections gone after the disconnect button. Screenshots in <c>artifacts/browser/</c>.
/// </summary>
[Collection(AdminConsoleNodesCollection.Name)]
[Trait("Category", "Cluster")]
public sealed class AdminConsoleBrowserTests(ITestOutputHelper output)
{
    private const string ApiKey = "admin-console-browser-key-0123456789";
    private const string Room = "console-demo";
    private const string LookedUp = "dana";
    /// <summary>Beyond the script's own bound (120 s), so the script reports its own timeouts first.</summary>
    private static readonly TimeSpan ScriptTimeout = TimeSpan.FromSeconds(150);

    [BrowserFact]
    public async Task A_signed_in_operator_sees_the_live_cluster_and_disconnects_a_user()
    {
        if (BrowserPrerequisites.Missing() is { } missing)
            Assert.Fail($"BROKER_REQUIRE_JS_TESTS=1 but the browser test cannot run: {missing}");

        await using var cluster = await BrokerProcessCluster.StartAsync("admin-console", 3, new Dictionary<string, string>
        {
            ["Broker:ApiKey"] = ApiKey,
            // A silent client is cut off within seconds, so the cut-off list has something to show.
            ["Broker:Heartbeat:Interval"] = "00:00:02",
            ["Broker:Heartbeat:Timeout"] = "00:00:02",
        });
        output.WriteLine($"logs: {cluster.LogDirectory}");
        var nodes = cluster.Nodes;

        // Members of one room on every node, publishing at different paces, so each node's lines differ.
        var members = new List<TestClient>();
        for (var node = 0; node < 3; node++)
        for (var i = 0; i <= node; i++)
        {
            var member = await TestClient.ConnectAuthenticatedAsync(nodes[node].WebSocketUri(), TestTokens.Valid($"member-{node}-{i}"), autoPong: true);
            await member.JoinAsync(Room);
            members.Add(member);
        }
        var dana = new[]
        {
            await TestClient.ConnectAuthenticatedAsync(nodes[1].WebSocketUri(), TestTokens.Valid(LookedUp), autoPong: true),
            await TestClient.ConnectAuthenticatedAsync(nodes[2].WebSocketUri(), TestTokens.Valid(LookedUp), autoPong: true),
        };
        await dana[0].JoinAsync("support");
        await using var silent = await TestClient.ConnectAuthenticatedAsync(nodes[2].WebSocketUri(), TestTokens.Valid("silent-sam"), autoPong: false);

        using var stop = new CancellationTokenSource();
        var publishing = members.Select((member, i) => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await member.PublishAsync(Room, new { text = $"tick from {i}" });
                // The pace of the load (2 to 10 publishes a second per member), not a wait for a condition.
                await Task.Delay(100 + 80 * i);
            }
        })).ToArray();

        var artifacts = Path.Combine(JsNodeProcess.RepositoryRoot, "artifacts", "browser");
        var unauthorized = Path.Combine(artifacts, "admin-console-401.png");
        var console = Path.Combine(artifacts, "admin-console.png");
        NodeRunResult run;
        try
        {
            run = await JsNodeProcess.RunAsync(ScriptTimeout,
                Path.Combine(BrowserPrerequisites.DriverDirectory, "admin-console.e2e.mjs"),
                nodes[0].BaseUri.ToString(), ApiKey, unauthorized, console, LookedUp, Room, "3");
        }
        finally
        {
            stop.Cancel();
            await Task.WhenAll(publishing).WaitAsync(TimeSpan.FromSeconds(15));
        }

        output.WriteLine(run.Output);
        Assert.True(run.ExitCode == 0, $"admin-console.e2e.mjs {(run.TimedOut ? "was killed after " + ScriptTimeout : "exited with " + run.ExitCode)}:\n{run.Output}");
        foreach (var socket in dana)
            Assert.Equal(CloseCodes.Disconnected, (await socket.ExpectCloseAsync()).Status);
        Assert.True(File.Exists(unauthorized), $"no screenshot at {unauthorized}");
        Assert.True(File.Exists(console), $"no screenshot at {console}");
        output.WriteLine($"screenshots: {unauthorized}, {console}");

        foreach (var member in members) await member.DisposeAsync();
        foreach (var socket in dana) await socket.DisposeAsync();
    }
}
