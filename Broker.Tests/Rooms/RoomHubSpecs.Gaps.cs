using Broker.Actors.Connections;
using Broker.Actors.Rooms;
using Broker.Contracts.Cluster;
using Broker.Contracts.Protocol;
using static Broker.Contracts.Cluster.RoomCommands;
using static Broker.Contracts.Cluster.RoomEvents;

namespace Broker.Tests.Rooms;

public sealed partial class RoomHubSpecs
{
    [Fact]
    public void A_broadcast_after_a_gap_waits_until_the_missing_range_is_fetched_from_history()
    {
        var alice = CreateTestProbe();
        JoinAndAccept(alice, "c1");
        BroadcastMessage(1);
        Assert.Equal(1, NextOffset(alice));

        BroadcastMessage(4); // 2 and 3 never came
        BroadcastMessage(5);
        var fetch = _region.ExpectMsg<FetchHistory>();
        Assert.Equal((RoomId, "e1", 1L, 3L), (fetch.RoomId, fetch.Epoch, fetch.AfterOffset, fetch.UpToOffset));
        alice.ExpectNoMsg(TimeSpan.FromMilliseconds(100)); // nothing skips ahead meanwhile
        _hub.Tell(new HistoryRange(RoomId, "e1", 2, 3, [Message(2), Message(3)], Complete: true, ["user-c1"]), _room.Ref);

        Assert.Equal([2L, 3L, 4L, 5L], Enumerable.Range(0, 4).Select(_ => NextOffset(alice)));
    }

    [Fact]
    public void A_gap_that_history_no_longer_has_is_announced_with_a_joined_without_id_before_going_on()
    {
        var alice = CreateTestProbe();
        JoinAndAccept(alice, "c1");
        BroadcastMessage(1);
        Assert.Equal(1, NextOffset(alice));

        BroadcastMessage(9);
        _region.ExpectMsg<FetchHistory>();
        _hub.Tell(new HistoryRange(RoomId, "e1", 5, 8, [Message(5), Message(6), Message(7), Message(8)], Complete: false, ["user-c1"]), _room.Ref);

        var joined = Parsed(alice);
        Assert.Equal("joined", joined.Type());
        Assert.Null(joined.Id());
        Assert.Equal(("e1", 8L, false), (joined.Data().Str("epoch"), joined.Data().Long("offset"), joined.Data().Bool("recovered")));
        Assert.Equal(9, NextOffset(alice));
    }

    [Fact]
    public void A_broadcast_already_delivered_is_not_delivered_again()
    {
        var alice = CreateTestProbe();
        JoinAndAccept(alice, "c1");
        BroadcastMessage(1);
        BroadcastMessage(1);
        BroadcastMessage(2);

        Assert.Equal(1, NextOffset(alice));
        Assert.Equal(2, NextOffset(alice));
        alice.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }
}
