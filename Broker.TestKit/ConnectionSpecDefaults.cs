using Broker.Actors.Connections;

namespace Broker.TestKit;

/// <summary>Routes shared by the connection specs.</summary>
public static class ConnectionSpecDefaults
{
    /// <summary>A chat route that opted in to route-wide broadcast (the specs of broadcast use it); <see cref="Lobby"/> keeps the default, off.</summary>
    public static readonly RoutePolicy Chat = new("chat", Anonymous: false, AllowPublish: true, AllowBroadcast: true);
    public static readonly RoutePolicy Notifications = new("notifications", Anonymous: false, AllowPublish: false);
    public static readonly RoutePolicy Lobby = new("lobby", Anonymous: true, AllowPublish: true);

    /// <summary>The defaults of PROTOCOL §8: the auth deadline (10 s) falls before the first heartbeat (25 s).</summary>
    public static readonly ConnectionSettings ProtocolDefaults = new(
        NodeName: "node-a",
        HeartbeatInterval: TimeSpan.FromSeconds(25),
        HeartbeatTimeout: TimeSpan.FromSeconds(10),
        AuthTimeout: TimeSpan.FromSeconds(10),
        MaxRoomsPerConnection: 100);
}
