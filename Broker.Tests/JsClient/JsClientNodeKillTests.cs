using System.Net;
using Broker.Tests.Cluster;
using Xunit.Abstractions;

namespace Broker.Tests.JsClient;

/// <summary>
/// The browser client (clients/js) through a node killed under it, on three real nodes: the
/// script (clients/js/test-integration/node-kill.mjs) is connected through a <see cref="TcpProxy"/>
/// to the node that dies, as behind a load balancer; once it says READY the node is crashed, and
/// once it says PUBLISHED (the room went on without it) the proxy leads to a survivor.
/// </summary>
[Trait("Category", "Cluster")]
public sealed class JsClientNodeKillTests(ITestOutputHelper output) : NodeLossTest
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(120);

    [NodeFact]
    public async Task The_js_client_reconnects_to_a_survivor_recovers_what_it_missed_and_learns_its_dead_rooms_new_epoch()
    {
        var safeRoom = await Cluster.NewRoomHostedWhereAsync(host => host != Victim);
        var doomedRoom = await Cluster.NewRoomHostedWhereAsync(host => host == Victim);
        await using var proxy = new TcpProxy(new IPEndPoint(IPAddress.Loopback, Victim.BaseUri.Port));
        var websocketFlag = await JsNodeProcess.MajorVersionAsync() < 22 ? new[] { "--experimental-websocket" } : [];
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var published = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var run = JsNodeProcess.RunAsync(Deadline, line =>
            {
                if (line == "READY") ready.TrySetResult();
                else if (line == "PUBLISHED") published.TrySetResult();
            },
            [.. websocketFlag, "clients/js/test-integration/node-kill.mjs", proxy.WebSocketUri("chat").ToString(), Survivor.BaseUri.ToString(), safeRoom, doomedRoom]);
        await Task.WhenAny(ready.Task, run).WaitAsync(Deadline);
        if (ready.Task.IsCompleted)
        {
            await Victim.CrashAsync();
            await Task.WhenAny(published.Task, run).WaitAsync(Deadline);
            proxy.Target = new IPEndPoint(IPAddress.Loopback, Survivor.BaseUri.Port);
        }
        var result = await run;

        output.WriteLine(result.Output);
        Assert.False(result.TimedOut, $"node-kill.mjs did not finish within {Deadline}:\n{result.Output}");
        Assert.True(result.ExitCode == 0, $"node-kill.mjs exited with {result.ExitCode}:\n{result.Output}");
    }
}
