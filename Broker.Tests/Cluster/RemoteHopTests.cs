using System.Diagnostics.Metrics;
using Broker.Actors.Observability;
using Broker.AspNetCore.Auth;
using Microsoft.Extensions.DependencyInjection;

namespace Broker.Tests.Cluster;

/// <summary>Runs alone, so the process-wide hop counter moves only for this test's broadcasts.</summary>
[CollectionDefinition(nameof(RemoteHopCollection), DisableParallelization = true)]
public sealed class RemoteHopCollection;

/// <summary>A broadcast crosses the network once per node with members, never once per member.</summary>
[Collection(nameof(RemoteHopCollection))]
[Trait("Category", "Cluster")]
public sealed class RemoteHopTests : IAsyncLifetime
{
    private const int MembersPerNode = 100;
    private ThreeNodeCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await ThreeNodeCluster.StartAsync();
    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task A_broadcast_to_300_members_on_3_nodes_crosses_the_network_at_most_3_times()
    {
        const string room = "fanout-300";
        var members = new List<TestClient>();
        foreach (var node in _cluster.Nodes)
        {
            var tokens = node.App.Services.GetRequiredService<DevTokenIssuer>();
            var connected = await Task.WhenAll(Enumerable.Range(0, MembersPerNode).Select(async i =>
            {
                var client = await TestClient.ConnectAuthenticatedAsync(node.WebSocketUri(), tokens.Issue($"{node.Name}-m{i}", TimeSpan.FromMinutes(10)), autoPong: true);
                await client.SendAsync(new { type = "join", data = new { room } });
                await client.ReceiveAsync("joined");
                return client;
            }));
            members.AddRange(connected);
        }

        long messageHops = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == BrokerMetrics.MeterName && instrument.Name == "broker_remote_hops_total") l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
                if (tag.Value as string == "message") Interlocked.Add(ref messageHops, value);
        });
        listener.Start();

        await members[0].SendAsync(new { type = "publish", id = "one", data = new { room, payload = "to all 300" } });
        var received = await Task.WhenAll(members.Select(async m => (await m.ReceiveAsync("message")).GetProperty("data").GetProperty("payload").GetString()));

        Assert.All(received, payload => Assert.Equal("to all 300", payload));
        // The room's own node is local; each of the other two gets the broadcast once.
        Assert.Equal(2, Interlocked.Read(ref messageHops));
        foreach (var member in members) await member.DisposeAsync();
    }
}
