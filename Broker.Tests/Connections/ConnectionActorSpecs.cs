using System.Text;
using Broker.Actors.Auth;
using Broker.Actors.Connections;
using Broker.Contracts.Protocol;
using Xunit.Abstractions;
using static Broker.Actors.Connections.ConnectionMessages;
using static Broker.TestKit.ConnectionSpecDefaults;

namespace Broker.Tests.Connections;

/// <summary>
/// One <see cref="ConnectionActor"/> driven through a <see cref="ProbeTransport"/>, with a
/// <see cref="TestProbe"/> as its parent standing in for the supervisor (heartbeat ticks and the
/// auth deadline are sent by hand) and virtual time for token expiry.
/// </summary>
public sealed partial class ConnectionActorSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(200);

    private static readonly ConnectionSettings Settings = new(
        NodeName: "node-a",
        HeartbeatInterval: TimeSpan.FromSeconds(1),
        HeartbeatTimeout: TimeSpan.FromMilliseconds(500),
        AuthTimeout: TimeSpan.FromSeconds(10),
        MaxRoomsPerConnection: 100);

    private readonly FakeTokenValidator _tokens = new();
    private readonly DateTimeOffset _inAnHour;

    public ConnectionActorSpecs(ITestOutputHelper output) : base(VirtualTime.Config, output: output)
    {
        _inAnHour = Sys.Scheduler.Now + TimeSpan.FromHours(1);
        _tokens.Accept("alice-token", "alice", _inAnHour);
    }

    private sealed record Connection(IActorRef Actor, ProbeTransport Transport, TestProbe Parent);

    private async Task<Connection> ConnectAsync(RoutePolicy route, AuthenticatedUser? user = null, int capacity = int.MaxValue, string id = "c1")
    {
        var transport = new ProbeTransport(CreateTestProbe("outbound"), CreateTestProbe("stream"), capacity);
        var parent = CreateTestProbe("parent");
        var actor = parent.ChildActorOf(ConnectionActor.Props(new ConnectionInfo(id, route, "127.0.0.1", user), transport, Settings, _tokens), "c-" + id);
        await transport.ConnectStreamAsync(Timeout);
        return new Connection(actor, transport, parent);
    }

    /// <summary>A connection on <c>chat</c> that authenticated as alice with a first-message auth frame.</summary>
    private async Task<Connection> ConnectAsAliceAsync(int capacity = int.MaxValue)
    {
        var c = await ConnectAsync(Chat, capacity: capacity);
        await c.Transport.SendTextAsync("""{"type":"auth","id":"a1","data":{"token":"alice-token"}}""", Timeout);
        await c.Transport.ExpectFrameAsync(FrameTypes.Welcome, Timeout);
        return c;
    }

    private static JsonElement Data(JsonElement frame) => frame.GetProperty("data");

    private static string? Str(JsonElement e, string name) => e.GetProperty(name).GetString();

    private static async Task ExpectErrorAsync(ProbeTransport transport, string code, string? id)
    {
        var error = await transport.ExpectFrameAsync(FrameTypes.Error, Timeout);
        Assert.Equal(code, Str(Data(error), "code"));
        Assert.False(string.IsNullOrEmpty(Str(Data(error), "message")));
        if (id is null) Assert.False(error.TryGetProperty("id", out _));
        else Assert.Equal(id, Str(error, "id"));
    }

    private async Task ExpectClosedAndStoppedAsync(Connection c, Close close, bool discardQueued = false)
    {
        Watch(c.Actor);
        var closed = await c.Transport.ExpectClosedAsync(Timeout);
        Assert.Equal(new ProbeTransport.Closed(close, discardQueued), closed);
        await ExpectTerminatedAsync(c.Actor, Timeout);
    }

    private async Task ExpectStillServingAsync(Connection c)
    {
        await c.Transport.SendTextAsync("""{"type":"ping","id":"still-there"}""", Timeout);
        var pong = await c.Transport.ExpectFrameAsync("pong", Timeout);
        Assert.Equal("still-there", Str(pong, "id"));
    }

    private static InboundFrame Text(string json) => InboundFrame.Text(Encoding.UTF8.GetBytes(json));
}
