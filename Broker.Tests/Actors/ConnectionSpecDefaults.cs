using Broker.Actors.Connections;

namespace Broker.Tests.Actors;

/// <summary>Routes shared by the connection specs.</summary>
internal static class ConnectionSpecDefaults
{
    public static readonly RoutePolicy Chat = new("chat", Anonymous: false, AllowPublish: true);
    public static readonly RoutePolicy Notifications = new("notifications", Anonymous: false, AllowPublish: false);
    public static readonly RoutePolicy Lobby = new("lobby", Anonymous: true, AllowPublish: true);
}
