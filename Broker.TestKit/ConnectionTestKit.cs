using Akka.TestKit;
using Broker.Actors.Auth;
using Broker.Actors.Connections;
using Broker.Contracts.Protocol;

namespace Broker.TestKit;

/// <summary>
/// Starts a real <see cref="ConnectionActor"/> over a <see cref="ProbeTransport"/> from any Akka.NET
/// TestKit (xunit, NUnit or MSTest flavour): the connection a client would have, without a socket.
/// </summary>
public static class ConnectionTestKit
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(3);

    /// <summary>
    /// A connection already authenticated as <paramref name="user"/> (until <paramref name="expiresAt"/>,
    /// on the test's clock: <see cref="VirtualTime"/>) on <paramref name="route"/> (default
    /// <see cref="ConnectionSpecDefaults.Chat"/>), its inbound stream open and its <c>welcome</c> frame
    /// read, so the next frame on <see cref="ProbeTransport.Outbound"/> answers what the test sends.
    /// <paramref name="services"/> holds the room hub, the user registry (probes, typically), room
    /// rules and message handlers; by default two probes nobody answers.
    /// </summary>
    public static async Task<ProbeTransport> StartConnectionAsync(this TestKitBase kit, ConnectionServices? services = null,
        string user = "alice", DateTimeOffset? expiresAt = null, RoutePolicy? route = null, ConnectionSettings? settings = null,
        ITokenValidator? tokens = null, TimeSpan? timeout = null)
    {
        var transport = new ProbeTransport(kit.CreateTestProbe("outbound"), kit.CreateTestProbe("stream"));
        var info = new ConnectionInfo("c1", route ?? ConnectionSpecDefaults.Chat, "127.0.0.1", new AuthenticatedUser(user, expiresAt));
        services ??= new ConnectionServices(kit.CreateTestProbe("hub").Ref, kit.CreateTestProbe("users").Ref);
        // A probe as parent: the connection's stop or crash shows up there, not at the test's guardian.
        kit.CreateTestProbe("parent").ChildActorOf(ConnectionActor.Props(info, transport,
            settings ?? ConnectionSpecDefaults.ProtocolDefaults, tokens ?? new FakeTokenValidator(), services));
        await transport.ConnectStreamAsync(timeout ?? DefaultTimeout);
        await transport.ExpectFrameAsync(FrameTypes.Welcome, timeout ?? DefaultTimeout);
        return transport;
    }
}
