namespace Broker.Contracts.Cluster;

/// <summary>
/// What the operator console asks of each node's report actor (at <see cref="Path"/> on every
/// node), so the console on any node shows the whole cluster: one ask per member, each answered
/// from figures the node keeps anyway, never a walk over its connections.
/// </summary>
public static class NodeReportQueries
{
    /// <summary>The report actor's path under the node's address (<c>akka.tcp://broker@host:port</c> + this).</summary>
    public const string Path = "/user/node-report";

    /// <summary>Asks for <see cref="NodeReportEvents.NodeReport"/> with at most <paramref name="TopRooms"/> of the node's busiest rooms.</summary>
    public sealed record GetNodeReport(int TopRooms) : IClusterMessage;
}

/// <summary>Replies of a node's report actor.</summary>
public static class NodeReportEvents
{
    /// <summary>
    /// One node's figures: its connections now, its last samples (one per second, oldest first),
    /// its busiest rooms by local connections (<paramref name="RoomsWithMembers"/> rooms have any),
    /// and its recent cut-offs (closes the broker chose: heartbeat, auth, limits, operator, drain).
    /// </summary>
    public sealed record NodeReport(
        string Node,
        int Connections,
        int Authenticated,
        NodeSample[] Samples,
        RoomConnections[] Rooms,
        int RoomsWithMembers,
        CutOffCount[] CutOffCounts,
        CutOff[] RecentCutOffs) : IClusterMessage;

    /// <summary>One second of a node: connections at <paramref name="AtMs"/> (unix ms), and publishes and deliveries per second since the sample before.</summary>
    public sealed record NodeSample(long AtMs, int Connections, double PublishesPerSecond, double DeliveriesPerSecond);

    /// <summary>A room's connections on one node.</summary>
    public sealed record RoomConnections(string Room, int Connections);

    /// <summary>How many connections a node cut off with this code and reason since it started.</summary>
    public sealed record CutOffCount(int Code, string Reason, long Count);

    /// <summary>
    /// One cut-off: when (unix ms), whose connection (null before it authenticated), on which route,
    /// and the close the broker sent. Never a token: the user id is the token's <c>sub</c>.
    /// </summary>
    public sealed record CutOff(long AtMs, string ConnectionId, string? User, string Route, int Code, string Reason);
}
