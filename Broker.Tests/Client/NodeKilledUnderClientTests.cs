using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using Broker.Client;
using Broker.Tests.Cluster;

namespace Broker.Tests.Client;

/// <summary>
/// The .NET client through a node crash, on three real nodes over Akka.Remote: it is connected
/// (through a <see cref="TcpProxy"/>, as behind a load balancer) to the node that dies, the proxy
/// then leads to a survivor, and the client must reconnect, rejoin with <c>since</c> and get every
/// message published meanwhile, in order and once, with recovery reported as it really went.
/// </summary>
[Trait("Category", "Cluster")]
public sealed class NodeKilledUnderClientTests : NodeLossTest
{
    private static readonly TimeSpan Timeout = ClientEvents.Timeout;
    /// <summary>Detecting the crash and reconnecting through the re-pointed proxy; generous for a loaded machine.</summary>
    private static readonly TimeSpan Failover = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_client_whose_node_is_killed_reconnects_to_a_survivor_and_gets_every_message_published_meanwhile_once_in_order()
    {
        using var api = await PublisherAsync();
        var safeRoom = await Cluster.NewRoomHostedWhereAsync(host => host != Victim);
        var doomedRoom = await Cluster.NewRoomHostedWhereAsync(host => host == Victim); // dies with the node

        await using var proxy = new TcpProxy(new IPEndPoint(IPAddress.Loopback, Victim.BaseUri.Port));
        var token = TestTokens.Valid("traveller");
        await using var client = new BrokerClient(new BrokerClientOptions
        {
            Url = proxy.WebSocketUri("chat"),
            TokenProvider = _ => ValueTask.FromResult(token),
            RequestTimeout = Timeout,
            Reconnect = new ReconnectOptions { InitialDelay = TimeSpan.FromMilliseconds(50), MaxDelay = TimeSpan.FromMilliseconds(500) },
        });
        var events = new ClientEvents(client);
        var received = new ConcurrentQueue<RoomMessage>();
        var recovered = new ConcurrentDictionary<string, RoomRecovered>();
        client.MessageReceived += received.Enqueue;
        client.Recovered += r => recovered[r.Room] = r;

        await client.ConnectAsync().WaitAsync(Timeout);
        Assert.Equal(Victim.Name, client.Welcome!.Node);
        var safeJoined = await client.JoinAsync(safeRoom).WaitAsync(Timeout);
        var doomedJoined = await client.JoinAsync(doomedRoom).WaitAsync(Timeout);
        for (var n = 1; n <= 5; n++) await PublishAsync(api, Seed, safeRoom, n);
        await Eventually.TrueAsync(() => received.Count == 5, Timeout, "the first 5 messages");

        await Victim.CrashAsync();
        var closed = await events.ClosedAsync();
        Assert.True(closed.WillReconnect);
        Assert.NotEqual(1000, closed.Code);

        // The client cannot get back in yet (the proxy still leads to the dead node): the room goes on.
        var meanwhile = new List<JsonElement>();
        for (var n = 6; n <= 15; n++) meanwhile.Add(await PublishAsync(api, Survivor, safeRoom, n));
        Assert.Equal(Enumerable.Range(6, 10).Select(n => (long)n), meanwhile.Select(a => a.GetProperty("offset").GetInt64()));
        Assert.All(meanwhile, a => Assert.Equal(safeJoined.Epoch, a.GetProperty("epoch").GetString()));

        proxy.Target = new IPEndPoint(IPAddress.Loopback, Survivor.BaseUri.Port);
        await Eventually.TrueAsync(() => recovered.ContainsKey(safeRoom), Failover, "the safe room rejoined");
        Assert.Equal(Survivor.Name, client.Welcome!.Node);
        Assert.Equal(new RoomRecovered(safeRoom, Recovered: true, EpochChanged: false, Missed: 10), recovered[safeRoom]);
        // The room that lived on the dead node is back on a survivor, honestly: a new epoch, nothing recovered.
        await Eventually.TrueAsync(() => recovered.ContainsKey(doomedRoom), Failover, "the doomed room rejoined");
        Assert.Equal(new RoomRecovered(doomedRoom, Recovered: false, EpochChanged: true, Missed: 0), recovered[doomedRoom]);
        await PublishAsync(api, Survivor, safeRoom, 16);
        await Eventually.TrueAsync(() => Safe().Count == 16, Timeout, "16 messages in the safe room");

        // Every message once, in order, in the one epoch: the 5 before, the 10 replayed, the live one.
        Assert.Equal(Enumerable.Range(1, 16).Select(n => (long)n), Safe().Select(m => m.Offset));
        Assert.Equal(Enumerable.Range(1, 16).Select(n => n.ToString()), Safe().Select(m => Encoding.UTF8.GetString(m.Payload.Span)));
        Assert.All(Safe(), m => Assert.Equal(safeJoined.Epoch, m.Epoch));

        List<RoomMessage> Safe() => received.Where(m => m.Room == safeRoom).ToList();
    }

    private async Task<HttpClient> PublisherAsync()
    {
        var http = new HttpClient { Timeout = Failover };
        http.DefaultRequestHeaders.Authorization = new("Bearer", TestTokens.Valid("placer", scope: "broker:publish"));
        return http;
    }

    /// <summary><c>POST /api/publish</c> on <paramref name="node"/>; returns the 202 body (<c>offset</c>, <c>epoch</c>).</summary>
    private static async Task<JsonElement> PublishAsync(HttpClient api, ClusterNode node, string room, int payload)
    {
        using var response = await api.PostAsJsonAsync(new Uri(node.BaseUri, "/api/publish"), new { room, payload });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }
}
