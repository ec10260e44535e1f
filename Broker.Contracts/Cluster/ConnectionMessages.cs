namespace Broker.Contracts.Cluster;

/// <summary>Commands to one connection actor that may come from another node (a room's hub, the user directory).</summary>
public static class ConnectionCommands
{
    /// <summary>
    /// Deliver this already-serialized frame. Rooms and users send it across nodes (only the frame
    /// travels). A node-local fan-out point sets <paramref name="FanOutStamp"/> (the broker's
    /// fan-out metrics stamp) so the delivery is counted and timed; it is never serialized.
    /// </summary>
    public sealed record Deliver(byte[] Frame, long FanOutStamp = 0) : IClusterMessage;

    /// <summary>Close with this code and reason. Crosses nodes (the user directory's disconnect).</summary>
    public sealed record CloseConnection(int Code, string Reason) : IClusterMessage;
}
