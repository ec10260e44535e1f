using System.Text;
using Broker.Actors.Rooms;

namespace Broker.Tests.Rooms;

/// <summary>The room's pure state: offsets, the history window, recovery and presence bookkeeping.</summary>
public sealed class RoomStateTests
{
    private const string Epoch = "epoch-1";

    private static RoomState Room(int historySize = 100) => new("lobby", Epoch, historySize);

    private static RoomMember Member(string connectionId, string userId) => new(connectionId, userId, ActorRefs.Nobody);

    private static byte[] FrameFor(long offset) => Encoding.UTF8.GetBytes($"m{offset}");

    private static void Publish(RoomState room, int count)
    {
        for (var i = 0; i < count; i++) room.Append(FrameFor);
    }

    private static string[] Texts(IEnumerable<byte[]> frames) => frames.Select(f => Encoding.UTF8.GetString(f)).ToArray();

    [Fact]
    public void A_new_room_is_at_offset_zero()
    {
        Assert.Equal(0, Room().Offset);
    }

    [Fact]
    public void Publishes_get_offsets_1_2_3_in_the_order_they_are_accepted()
    {
        var room = Room();

        var offsets = Enumerable.Range(0, 3).Select(_ => room.Append(FrameFor).Offset).ToArray();

        Assert.Equal([1L, 2L, 3L], offsets);
        Assert.Equal(3, room.Offset);
    }

    [Fact]
    public void The_frame_is_built_with_the_offset_it_gets()
    {
        var room = Room();
        room.Append(FrameFor);

        var (offset, frame) = room.Append(FrameFor);

        Assert.Equal(2, offset);
        Assert.Equal("m2", Encoding.UTF8.GetString(frame));
    }

    [Fact]
    public void History_keeps_only_the_last_HistorySize_messages()
    {
        var room = Room(historySize: 3);
        Publish(room, 10);

        var recovery = room.Recover(Epoch, 0);

        Assert.Equal(["m8", "m9", "m10"], Texts(recovery.Missed));
    }

    [Fact]
    public void Recovering_within_history_returns_every_missed_message_in_order()
    {
        var room = Room(historySize: 5);
        Publish(room, 5);

        var recovery = room.Recover(Epoch, 2);

        Assert.Equal(["m3", "m4", "m5"], Texts(recovery.Missed));
        Assert.True(recovery.Recovered);
    }

    [Fact]
    public void Recovering_from_just_before_the_oldest_kept_message_is_complete()
    {
        var room = Room(historySize: 3);
        Publish(room, 6); // keeps 4, 5, 6

        var recovery = room.Recover(Epoch, 3);

        Assert.Equal(["m4", "m5", "m6"], Texts(recovery.Missed));
        Assert.True(recovery.Recovered);
    }

    [Fact]
    public void Recovering_from_older_than_history_returns_what_is_left_and_is_not_recovered()
    {
        var room = Room(historySize: 3);
        Publish(room, 6); // keeps 4, 5, 6; 2 and 3 are lost

        var recovery = room.Recover(Epoch, 1);

        Assert.Equal(["m4", "m5", "m6"], Texts(recovery.Missed));
        Assert.False(recovery.Recovered);
    }

    [Fact]
    public void Recovering_from_another_epoch_returns_nothing_and_is_not_recovered()
    {
        var room = Room();
        Publish(room, 3);

        var recovery = room.Recover("another-epoch", 1);

        Assert.Empty(recovery.Missed);
        Assert.False(recovery.Recovered);
    }

    [Fact]
    public void Recovering_from_the_current_offset_misses_nothing_and_is_recovered()
    {
        var room = Room();
        Publish(room, 3);

        var recovery = room.Recover(Epoch, 3);

        Assert.Empty(recovery.Missed);
        Assert.True(recovery.Recovered);
    }

    [Fact]
    public void Recovering_from_offset_zero_of_an_empty_room_is_recovered()
    {
        var recovery = Room().Recover(Epoch, 0);

        Assert.Empty(recovery.Missed);
        Assert.True(recovery.Recovered);
    }

    [Fact]
    public void Recovering_from_beyond_the_current_offset_is_not_recovered()
    {
        var room = Room();
        Publish(room, 3);

        var recovery = room.Recover(Epoch, 4);

        Assert.Empty(recovery.Missed);
        Assert.False(recovery.Recovered);
    }

    [Fact]
    public void A_join_without_a_position_recovers_nothing()
    {
        var room = Room();
        Publish(room, 3);

        var recovery = room.Recover(null, null);

        Assert.Empty(recovery.Missed);
        Assert.False(recovery.Recovered);
    }

    [Fact]
    public void Without_history_a_gap_cannot_be_recovered()
    {
        var room = Room(historySize: 0);
        Publish(room, 3);

        var recovery = room.Recover(Epoch, 1);

        Assert.Empty(recovery.Missed);
        Assert.False(recovery.Recovered);
    }

    [Fact]
    public void The_first_connection_of_a_user_is_a_presence_join()
    {
        var room = Room();

        Assert.True(room.Join(Member("c1", "alice")));
        Assert.True(room.IsMember("c1"));
        Assert.Equal(1, room.MemberCount);
    }

    [Fact]
    public void A_second_connection_of_the_same_user_is_not_a_presence_join()
    {
        var room = Room();
        room.Join(Member("c1", "alice"));

        Assert.False(room.Join(Member("c2", "alice")));
        Assert.Equal(2, room.MemberCount);
    }

    [Fact]
    public void Joining_twice_with_the_same_connection_changes_nothing()
    {
        var room = Room();
        room.Join(Member("c1", "alice"));

        Assert.False(room.Join(Member("c1", "alice")));
        Assert.Equal(1, room.MemberCount);
    }

    [Fact]
    public void Only_the_leave_of_a_users_last_connection_is_a_presence_leave()
    {
        var room = Room();
        room.Join(Member("c1", "alice"));
        room.Join(Member("c2", "alice"));

        var first = room.Leave("c1");
        var last = room.Leave("c2");

        Assert.Equal("c1", first.Member?.ConnectionId);
        Assert.False(first.UserLeft);
        Assert.Equal("c2", last.Member?.ConnectionId);
        Assert.True(last.UserLeft);
        Assert.Equal(0, room.MemberCount);
        Assert.Empty(room.Users());
    }

    [Fact]
    public void Leaving_without_being_a_member_changes_nothing()
    {
        var room = Room();
        room.Join(Member("c1", "alice"));

        var (member, userLeft) = room.Leave("stranger");

        Assert.Null(member);
        Assert.False(userLeft);
        Assert.Equal(1, room.MemberCount);
    }

    [Fact]
    public void Members_are_the_distinct_users_in_the_order_they_joined()
    {
        var room = Room();
        room.Join(Member("c1", "alice"));
        room.Join(Member("c2", "bob"));
        room.Join(Member("c3", "alice"));

        Assert.Equal(["alice", "bob"], room.Users());
        Assert.Equal(3, room.MemberCount);
    }

    [Fact]
    public void Members_on_a_hub_are_the_connections_it_delivers_to()
    {
        var room = Room();
        room.Join(Member("c1", "alice"));
        room.Join(Member("c2", "bob"));

        Assert.Equal(["c1", "c2"], room.MembersOn(ActorRefs.Nobody).Order().ToArray());
        Assert.Single(room.Hubs);
    }

    [Fact]
    public void Expire_drops_the_messages_past_their_ttl_oldest_first_and_recovery_then_says_so()
    {
        var room = Room();
        room.Append(FrameFor, atMs: 1_000);
        room.Append(FrameFor, atMs: 2_000);
        room.Append(FrameFor, atMs: 3_000);

        Assert.Equal(1, room.Expire(nowMs: 3_500, ttlMs: 2_000)); // only the first is 2 s old
        var recovery = room.Recover(Epoch, 0);
        Assert.Equal(["m2", "m3"], Texts(recovery.Missed));
        Assert.False(recovery.Recovered);
        Assert.True(room.Recover(Epoch, 1).Recovered);

        Assert.Equal(2, room.Expire(nowMs: 10_000, ttlMs: 2_000));
        Assert.Equal(0, room.HistoryCount);
        Assert.Equal(3, room.Offset); // offsets are not history: the next publish is 4
        Assert.Equal(4, room.Append(FrameFor, atMs: 10_000).Offset);
    }

    [Fact]
    public void Restore_takes_a_recovered_epoch_offset_and_window()
    {
        var room = Room(historySize: 2);
        room.Restore("kept", 9, [(7L, FrameFor(7), 1L), (8L, FrameFor(8), 1L), (9L, FrameFor(9), 1L)]);
        Assert.Equal(("kept", 9L), (room.Epoch, room.Offset));
        Assert.Equal(["m8", "m9"], Texts(room.History().Select(h => h.Frame)));
        Assert.Equal(10, room.Append(FrameFor).Offset);
    }
}
