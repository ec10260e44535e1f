// Also compiled into Broker.Client (linked, no package dependency), under the client's namespace.
#if BROKER_CLIENT
namespace Broker.Client.Protocol;
#else
namespace Broker.Contracts.Protocol;
#endif

/// <summary>The <c>type</c> strings of the envelope, both directions (PROTOCOL §3).</summary>
public static class FrameTypes
{
    // client → server
    public const string Auth = "auth";
    public const string Join = "join";
    public const string Leave = "leave";
    public const string Publish = "publish";
    public const string Send = "send";
    public const string Ping = "ping";
    public const string Pong = "pong";

    // server → client
    public const string Welcome = "welcome";
    public const string Refreshed = "refreshed";
    public const string Joined = "joined";
    public const string Left = "left";
    public const string Ack = "ack";
    public const string Message = "message";
    public const string Direct = "direct";
    public const string Presence = "presence";
    /// <summary>A room's member count, in place of <c>presence</c> frames when they come too fast (PROTOCOL §9.3).</summary>
    public const string Occupancy = "occupancy";
    public const string Error = "error";
}
