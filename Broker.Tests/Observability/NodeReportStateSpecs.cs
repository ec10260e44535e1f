using Broker.Actors.Observability;
using Broker.Contracts.Protocol;
using static Broker.Contracts.Cluster.NodeReportEvents;

namespace Broker.Tests.Observability;

/// <summary>The plain state behind a node's report: room counts from access events, the cut-off ring, the samples.</summary>
public sealed class NodeReportStateSpecs
{
    [Fact]
    public void Rooms_count_each_connection_once_and_lose_it_on_leave_and_close()
    {
        var activity = new LocalActivity();
        activity.Connected("c1", null);
        activity.Authenticated("c1", "alice");
        activity.Connected("c2", "bob");
        activity.Connected("c3", "carol");
        activity.Joined("c1", "lobby");
        activity.Joined("c1", "lobby"); // a second join of the same room
        activity.Joined("c2", "lobby");
        activity.Joined("c3", "lobby");
        activity.Joined("c2", "news");
        activity.Joined("c3", "zoo");

        Assert.Equal([new RoomConnections("lobby", 3), new RoomConnections("news", 1)], activity.Busiest(2));
        Assert.Equal(3, activity.RoomsWithMembers);

        activity.Left("c3", "lobby");
        activity.Left("c3", "never-joined");
        Assert.Equal("bob", activity.Closed("c2"));
        Assert.Equal([new RoomConnections("lobby", 1), new RoomConnections("zoo", 1)], activity.Busiest(10));
        Assert.Equal("alice", activity.Closed("c1"));
        Assert.Null(activity.Closed("c1"));
        Assert.Equal([new RoomConnections("zoo", 1)], activity.Busiest(10));
        Assert.Equal(1, activity.Connections);
    }

    [Fact]
    public void The_cut_off_ring_keeps_the_newest_and_counts_every_one()
    {
        var log = new CutOffLog(3);
        for (var i = 1; i <= 5; i++)
            log.Add(new CutOff(i, $"c{i}", i % 2 == 0 ? null : $"u{i}", "chat", i <= 3 ? 1008 : 4500, i <= 3 ? "heartbeat timeout" : "disconnected"));

        Assert.Equal(["c5", "c4", "c3"], log.Recent().Select(c => c.ConnectionId));
        Assert.Equal([new CutOffCount(1008, "heartbeat timeout", 3), new CutOffCount(4500, "disconnected", 2)], log.Counts());
        Assert.Equal(5, log.Total);
        Assert.False(CutOffLog.IsCutOff(Close.Normal));
        Assert.True(CutOffLog.IsCutOff(Close.ShuttingDown));
        Assert.True(CutOffLog.IsCutOff(Close.SlowConsumer));
    }

    [Fact]
    public void Samples_turn_running_totals_into_rates_and_keep_the_last_few()
    {
        var series = new NodeSeries(3);
        series.Add(1_000, 1, publishesTotal: 10, deliveriesTotal: 100);
        series.Add(2_000, 2, publishesTotal: 30, deliveriesTotal: 400);
        series.Add(4_000, 2, publishesTotal: 40, deliveriesTotal: 400);
        series.Add(5_000, 0, publishesTotal: 40, deliveriesTotal: 410);

        Assert.Equal(
            [new NodeSample(2_000, 2, 20, 300), new NodeSample(4_000, 2, 5, 0), new NodeSample(5_000, 0, 0, 10)],
            series.Samples());
    }
}
