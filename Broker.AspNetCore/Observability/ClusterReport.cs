using Akka.Actor;
using Akka.Cluster;
using Broker.AspNetCore.Configuration;
using Broker.AspNetCore.Hosting;
using Broker.Contracts.Cluster;
using Microsoft.Extensions.Options;
using static Broker.Contracts.Cluster.NodeReportEvents;

namespace Broker.AspNetCore.Observability;

/// <summary>
/// <c>/admin/cluster</c>: the console's whole-cluster view from any node. Each member that is
/// reachable and running is asked for its <see cref="NodeReport"/> (its report actor at
/// <see cref="NodeReportQueries.Path"/>) at once, each ask bounded by
/// <c>Broker:Management:ReportTimeout</c>; a member that does not answer, or is unreachable, is
/// listed with the reason and without figures. The page never waits longer than one timeout and
/// never fails for a node.
/// </summary>
public sealed class ClusterReport(BrokerNode node, IOptions<BrokerOptions> options, TimeProvider time)
{
    /// <summary>Rooms the console lists.</summary>
    public const int TopRooms = 20;

    /// <summary>
    /// Rooms each node lists: more than the console shows, so that a room busy across the cluster
    /// but not in any node's own top <see cref="TopRooms"/> still makes the list; a room below every
    /// node's top 100 can be missed or undercounted (docs/observability.md).
    /// </summary>
    public const int RoomsPerNode = 100;

    /// <summary>Recent cut-offs the console lists.</summary>
    public const int RecentCutOffs = 50;

    private readonly TimeSpan _timeout = options.Value.Management.ReportTimeout;

    public async Task<AdminClusterResponse> GetAsync(CancellationToken cancellationToken)
    {
        await node.Started.WaitAsync(cancellationToken);
        var cluster = Cluster.Get(node.System);
        var state = cluster.State;
        var self = cluster.SelfAddress;
        var unreachable = state.Unreachable.Select(m => m.Address).ToHashSet();
        var members = state.Members.Concat(state.Unreachable.Where(u => !state.Members.Contains(u))).ToArray();
        var reports = await Task.WhenAll(members.Select(m => AskAsync(m, unreachable.Contains(m.Address), cancellationToken)));

        var rows = new AdminMember[members.Length];
        for (var i = 0; i < members.Length; i++)
        {
            var member = members[i];
            var (report, problem) = reports[i];
            rows[i] = new AdminMember(
                NodeName(member.Address), member.Address.ToString(), member.Status.ToString(), !unreachable.Contains(member.Address),
                member.Roles.Order(StringComparer.Ordinal).ToArray(), member.Address == self, member.Address == state.Leader,
                report is not null, problem, report?.Connections ?? 0, report?.Authenticated ?? 0, report?.RoomsWithMembers ?? 0,
                report?.Samples ?? []);
        }
        var answered = reports.Where(r => r.Report is not null).Select(r => r.Report!).ToArray();
        return new AdminClusterResponse(NodeName(self), state.Leader is { } leader ? NodeName(leader) : null,
            time.GetUtcNow().ToUnixTimeMilliseconds(), rows.OrderBy(r => r.Node, StringComparer.Ordinal).ToArray(),
            BusiestRooms(answered), CutOffs(answered));
    }

    /// <summary>The member's report, or why there is none.</summary>
    private async Task<(NodeReport? Report, string? Problem)> AskAsync(Member member, bool isUnreachable, CancellationToken cancellationToken)
    {
        if (isUnreachable) return (null, "unreachable: not asked");
        if (member.Status is MemberStatus.Down or MemberStatus.Exiting or MemberStatus.Removed)
            return (null, $"{member.Status.ToString().ToLowerInvariant()}: not asked");
        try
        {
            var report = node.System.ActorSelection(member.Address + NodeReportQueries.Path);
            return (await report.Ask<NodeReport>(new NodeReportQueries.GetNodeReport(RoomsPerNode), _timeout, cancellationToken), null);
        }
        catch (AskTimeoutException)
        {
            return (null, $"did not answer within {_timeout.TotalSeconds:0.#} s");
        }
    }

    private static AdminRoom[] BusiestRooms(NodeReport[] reports)
    {
        var byRoom = new Dictionary<string, Dictionary<string, int>>(StringComparer.Ordinal);
        foreach (var report in reports)
        foreach (var room in report.Rooms)
        {
            if (!byRoom.TryGetValue(room.Room, out var byNode)) byRoom[room.Room] = byNode = new Dictionary<string, int>(StringComparer.Ordinal);
            byNode[report.Node] = room.Connections;
        }
        return byRoom.Select(r => new AdminRoom(r.Key, r.Value.Values.Sum(), r.Value))
            .OrderByDescending(r => r.Connections).ThenBy(r => r.Room, StringComparer.Ordinal)
            .Take(TopRooms).ToArray();
    }

    private static AdminCutOffs CutOffs(NodeReport[] reports)
    {
        var counts = reports.SelectMany(r => r.CutOffCounts)
            .GroupBy(c => (c.Code, c.Reason))
            .Select(g => new CutOffCount(g.Key.Code, g.Key.Reason, g.Sum(c => c.Count)))
            .OrderByDescending(c => c.Count).ThenBy(c => c.Code).ThenBy(c => c.Reason, StringComparer.Ordinal)
            .ToArray();
        var recent = reports.SelectMany(r => r.RecentCutOffs.Select(c => new AdminCutOff(c.AtMs, r.Node, c.ConnectionId, c.User, c.Route, c.Code, c.Reason)))
            .OrderByDescending(c => c.AtMs).ThenBy(c => c.Node, StringComparer.Ordinal)
            .Take(RecentCutOffs)
            .ToArray();
        return new AdminCutOffs(counts, recent);
    }

    /// <summary>A node's name as the host gives it: <c>host:port</c> of its Akka address.</summary>
    private static string NodeName(Address address) => $"{address.Host}:{address.Port}";
}
