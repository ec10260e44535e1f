using static Broker.Contracts.Cluster.NodeReportEvents;
using static Broker.Contracts.Cluster.UserEvents;

namespace Broker.AspNetCore.Observability;

/// <summary>
/// The body of <c>GET /admin/cluster</c>: every member as the answering node (<paramref name="Self"/>)
/// sees it, with each node's own figures where it answered; the busiest rooms and the cut-offs of
/// the nodes that answered, merged. <paramref name="AtMs"/> is when it was put together (unix ms).
/// </summary>
public sealed record AdminClusterResponse(string Self, string? Leader, long AtMs, AdminMember[] Members, AdminRoom[] Rooms, AdminCutOffs CutOffs);

/// <summary>
/// One member: its Akka address and state, whether it is reachable from here, its roles; and, when
/// it answered in time (<paramref name="Answered"/>), its connections and last samples (one a
/// second, oldest first); otherwise <paramref name="Problem"/> says why there are none.
/// </summary>
public sealed record AdminMember(
    string Node, string Address, string Status, bool Reachable, string[] Roles, bool IsSelf, bool IsLeader,
    bool Answered, string? Problem, int Connections, int Authenticated, int RoomsWithMembers, NodeSample[] Samples);

/// <summary>A room's connections across the nodes that answered, and on each of them.</summary>
public sealed record AdminRoom(string Room, int Connections, Dictionary<string, int> ByNode);

/// <summary>Cut-offs of the nodes that answered: counts by code and reason, and the most recent ones, newest first.</summary>
public sealed record AdminCutOffs(CutOffCount[] Counts, AdminCutOff[] Recent);

/// <summary>One cut-off and the node that made it.</summary>
public sealed record AdminCutOff(long AtMs, string Node, string ConnectionId, string? User, string Route, int Code, string Reason);

/// <summary>The body of <c>GET /admin/users/{user}</c>: the user's connections (node and rooms each), the nodes and rooms they span.</summary>
public sealed record AdminUserResponse(string User, bool Online, UserConnection[] Connections, string[] Nodes, string[] Rooms);
