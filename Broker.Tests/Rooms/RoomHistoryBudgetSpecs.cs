using Broker.Actors.Rooms;
using static Broker.Contracts.Cluster.RoomCommands;
using static Broker.Contracts.Cluster.RoomEvents;

namespace Broker.Tests.Rooms;

/// <summary>
/// <see cref="RoomActor"/>s sharing one node's <see cref="HistoryBudget"/>: the room that takes the
/// node over budget gets the room holding the node's oldest entries to trim them, by message.
/// </summary>
public sealed class RoomHistoryBudgetSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly RoomSettings Settings = new(HistorySize: 100, IdleTimeout: TimeSpan.FromMinutes(5), HistoryMaxBytes: 1 << 20);
    private static readonly string Pad = "\"" + new string('x', 400) + "\"";

    private PublishAccepted Publish(IActorRef room, string roomId, string payload)
    {
        var publisher = CreateTestProbe();
        room.Tell(new PublishToRoom(roomId, null, "server", Frame.Json(payload), false, null), publisher.Ref);
        return publisher.ExpectMsg<PublishAccepted>();
    }

    private PublishAccepted PublishLarge(IActorRef room, string roomId, int n) =>
        Publish(room, roomId, "{\"n\":" + n + ",\"pad\":" + Pad + "}");

    private JoinResult JoinSince(IActorRef room, string roomId, string epoch, long since)
    {
        var hub = CreateTestProbe();
        room.Tell(new JoinRoom(roomId, "c-" + Guid.NewGuid().ToString("N"), "late", CreateTestProbe().Ref, hub.Ref, "j", epoch, since));
        return hub.FishForMessage(m => m is JoinResult) as JoinResult ?? throw new InvalidOperationException();
    }

    /// <summary>The bytes of one message frame of <see cref="PublishLarge"/> (a one-digit offset and n, a room id of 3 characters).</summary>
    private long FrameBytes()
    {
        var budget = new HistoryBudget(long.MaxValue);
        PublishLarge(Sys.ActorOf(RoomActor.Props("rrr", Settings, budget)), "rrr", 1);
        return budget.Bytes;
    }

    [Fact]
    public void A_room_that_takes_the_node_over_budget_gets_the_room_with_the_oldest_entries_to_trim_them()
    {
        var frameBytes = FrameBytes();
        var budget = new HistoryBudget(limitBytes: 6 * frameBytes); // six frames, filled by one room
        var old = Sys.ActorOf(RoomActor.Props("old", Settings, budget));
        var @new = Sys.ActorOf(RoomActor.Props("new", Settings, budget));
        var epoch = "";
        for (var n = 1; n <= 6; n++) epoch = PublishLarge(old, "old", n).Epoch;
        Assert.Equal(6 * frameBytes, budget.Bytes);

        // Three publishes elsewhere: the new room keeps them, the old room gives up its three oldest.
        var newEpoch = "";
        for (var n = 1; n <= 3; n++)
        {
            newEpoch = PublishLarge(@new, "new", n).Epoch;
            AwaitCondition(() => budget.Bytes <= budget.LimitBytes);
        }

        var oldJoin = JoinSince(old, "old", epoch, 0);
        var newJoin = JoinSince(@new, "new", newEpoch, 0);
        Assert.Equal([4L, 5L, 6L], oldJoin.Frames[..^1].Select(f => Frame.Parse(f).Data().Long("offset")));
        Assert.False(Frame.Parse(oldJoin.Frames[^1]).Data().Bool("recovered"));
        Assert.Equal([1L, 2L, 3L], newJoin.Frames[..^1].Select(f => Frame.Parse(f).Data().Long("offset")));
        Assert.True(Frame.Parse(newJoin.Frames[^1]).Data().Bool("recovered"));
        Assert.Equal(6 * frameBytes, budget.Bytes);
    }

    [Fact]
    public void Fetching_a_range_the_node_budget_trimmed_is_served_from_what_is_left_and_incomplete()
    {
        var budget = new HistoryBudget(limitBytes: 4 * FrameBytes());
        var a = Sys.ActorOf(RoomActor.Props("aaa", Settings, budget));
        var b = Sys.ActorOf(RoomActor.Props("bbb", Settings, budget));
        var epoch = "";
        for (var n = 1; n <= 4; n++) epoch = PublishLarge(a, "aaa", n).Epoch;
        for (var n = 1; n <= 2; n++)
        {
            PublishLarge(b, "bbb", n);
            AwaitCondition(() => budget.Bytes <= budget.LimitBytes);
        }

        var hub = CreateTestProbe();
        a.Tell(new FetchHistory("aaa", epoch, 0, 4), hub.Ref);
        var range = hub.ExpectMsg<HistoryRange>();

        Assert.False(range.Complete);
        Assert.Equal(3, range.FirstOffset);
        Assert.Equal([3L, 4L], range.Frames.Select(f => Frame.Parse(f).Data().Long("offset")));
    }

    [Fact]
    public void A_stopped_room_gives_its_history_bytes_back_to_the_node()
    {
        var budget = new HistoryBudget(limitBytes: 1 << 20);
        var a = Sys.ActorOf(RoomActor.Props("a", Settings, budget));
        var b = Sys.ActorOf(RoomActor.Props("b", Settings, budget));
        for (var n = 1; n <= 3; n++) PublishLarge(a, "a", n);
        PublishLarge(b, "b", 1);
        var bBytes = budget.Bytes / 4;

        Watch(a);
        a.Tell(PoisonPill.Instance);
        ExpectTerminated(a);

        Assert.Equal(bBytes, budget.Bytes);
    }

    [Fact]
    public void Many_rooms_publishing_large_messages_keep_the_node_within_budget_plus_one_message_per_room()
    {
        var frameBytes = FrameBytes() + 8; // offsets and n of two digits
        var budget = new HistoryBudget(limitBytes: 10 * frameBytes);
        var rooms = Enumerable.Range(0, 5).Select(i => Sys.ActorOf(RoomActor.Props($"r{i}", Settings, budget))).ToArray();

        var most = 0L;
        for (var round = 0; round < 40; round++)
        {
            for (var i = 0; i < rooms.Length; i++) PublishLarge(rooms[i], $"r{i}", round);
            most = Math.Max(most, budget.Bytes);
        }
        AwaitCondition(() => budget.Bytes <= budget.LimitBytes);

        Assert.True(most <= budget.LimitBytes + rooms.Length * frameBytes, $"{most} bytes held at most, budget {budget.LimitBytes}");
    }
}
