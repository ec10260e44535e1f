using Broker.Client.Internal;

namespace Broker.Tests.Client;

/// <summary>The per-room cursor: since, duplicates, replays and epoch changes.</summary>
public sealed class RoomRecoveryTests
{
    private static RoomCursor Joined(RoomRecovery rooms, string room, string epoch, long offset)
    {
        var cursor = rooms.BeginJoin(room);
        RoomRecovery.Joined(cursor, epoch, offset, recovered: false);
        return cursor;
    }

    [Fact]
    public void A_first_join_starts_the_cursor_at_the_joined_offset()
    {
        var rooms = new RoomRecovery();

        var cursor = rooms.BeginJoin("r");
        var outcome = RoomRecovery.Joined(cursor, "e1", 7, recovered: false);

        Assert.True(cursor.Joined);
        Assert.Equal("e1", cursor.Epoch);
        Assert.Equal(7, cursor.Offset);
        Assert.False(outcome.EpochChanged);
        Assert.Equal(0, outcome.Missed);
    }

    [Fact]
    public void Live_messages_advance_the_cursor_and_repeats_are_dropped()
    {
        var rooms = new RoomRecovery();
        var cursor = Joined(rooms, "r", "e1", 7);

        Assert.True(RoomRecovery.Accept(cursor, "e1", 8));
        Assert.True(RoomRecovery.Accept(cursor, "e1", 9));
        Assert.False(RoomRecovery.Accept(cursor, "e1", 9));
        Assert.False(RoomRecovery.Accept(cursor, "e1", 8));
        Assert.False(RoomRecovery.Accept(cursor, "e1", 7)); // history before the join
        Assert.Equal(9, cursor.Offset);
    }

    [Fact]
    public void A_rejoin_counts_the_replayed_messages_and_drops_the_ones_already_seen()
    {
        var rooms = new RoomRecovery();
        var cursor = Joined(rooms, "r", "e1", 0);
        RoomRecovery.Accept(cursor, "e1", 1);
        RoomRecovery.Accept(cursor, "e1", 2);

        rooms.BeginJoin("r"); // reconnected: join with since {e1, 2}
        Assert.Equal(("e1", 2L), (cursor.Epoch, cursor.Offset));
        Assert.False(RoomRecovery.Accept(cursor, "e1", 2)); // a replay overlapping what was seen
        Assert.True(RoomRecovery.Accept(cursor, "e1", 3));
        Assert.True(RoomRecovery.Accept(cursor, "e1", 4));
        var outcome = RoomRecovery.Joined(cursor, "e1", 4, recovered: true);

        Assert.Equal(new RejoinOutcome(Recovered: true, EpochChanged: false, Missed: 2), outcome);
        Assert.Equal(4, cursor.Offset);
        Assert.True(RoomRecovery.Accept(cursor, "e1", 5));
    }

    [Fact]
    public void A_new_epoch_at_rejoin_is_reported_and_restarts_the_cursor()
    {
        var rooms = new RoomRecovery();
        var cursor = Joined(rooms, "r", "e1", 10);

        rooms.BeginJoin("r");
        var outcome = RoomRecovery.Joined(cursor, "e2", 0, recovered: false);

        Assert.Equal(new RejoinOutcome(Recovered: false, EpochChanged: true, Missed: 0), outcome);
        Assert.Equal(("e2", 0L), (cursor.Epoch, cursor.Offset));
        Assert.True(RoomRecovery.Accept(cursor, "e2", 1)); // offsets restart in the new epoch
    }

    [Fact]
    public void A_message_from_a_new_epoch_is_delivered_and_moves_the_cursor_to_it()
    {
        var rooms = new RoomRecovery();
        var cursor = Joined(rooms, "r", "e1", 50);

        Assert.True(RoomRecovery.Accept(cursor, "e2", 1));

        Assert.Equal(("e2", 1L), (cursor.Epoch, cursor.Offset));
        Assert.Equal(cursor.EpochUtf8, "e2"u8.ToArray());
    }

    [Fact]
    public void Recovery_that_lost_messages_is_not_recovered()
    {
        var rooms = new RoomRecovery();
        var cursor = Joined(rooms, "r", "e1", 5);

        rooms.BeginJoin("r");
        RoomRecovery.Accept(cursor, "e1", 150); // history kept only the tail
        var outcome = RoomRecovery.Joined(cursor, "e1", 150, recovered: false);

        Assert.False(outcome.Recovered);
        Assert.False(outcome.EpochChanged);
        Assert.Equal(1, outcome.Missed);
    }

    [Fact]
    public void A_failed_first_join_forgets_the_room_but_a_failed_rejoin_of_a_joined_room_does_not()
    {
        var rooms = new RoomRecovery();
        rooms.BeginJoin("new");
        Joined(rooms, "old", "e", 1);

        rooms.JoinFailed("new");
        rooms.BeginJoin("old");
        rooms.JoinFailed("old");

        Assert.Null(rooms.Find("new"));
        Assert.NotNull(rooms.Find("old"));
        Assert.NotNull(rooms.Find("old".AsSpan()));
    }

    [Fact]
    public void Leaving_forgets_the_room()
    {
        var rooms = new RoomRecovery();
        Joined(rooms, "r", "e", 1);

        Assert.True(rooms.Remove("r"));
        Assert.Equal(0, rooms.Count);
        Assert.Empty(rooms.Snapshot());
    }

    [Fact]
    public void A_resync_accepts_the_new_epoch_from_offset_1_and_moves_the_cursor_there()
    {
        var rooms = new RoomRecovery();
        var cursor = Joined(rooms, "r", "e1", 40);
        Assert.True(RoomRecovery.Accept(cursor, "e1", 41));

        // Offsets below the old cursor, in another epoch: new messages, not duplicates.
        Assert.True(RoomRecovery.Accept(cursor, "e2", 1));
        Assert.True(RoomRecovery.Accept(cursor, "e2", 2));
        Assert.False(RoomRecovery.Accept(cursor, "e2", 2));
        RoomRecovery.Resynced(cursor, "e2", 2);

        Assert.Equal(("e2", 2L), (cursor.Epoch, cursor.Offset));
        Assert.True(cursor.Joined);
        Assert.Equal(("e2", 2L), (rooms.Snapshot()[0].Epoch, rooms.Snapshot()[0].Offset)); // the next rejoin's since
    }

    [Fact]
    public void A_resync_never_moves_the_cursor_back_within_an_epoch_and_starts_an_empty_epoch_at_its_offset()
    {
        var rooms = new RoomRecovery();
        var cursor = Joined(rooms, "r", "e1", 5);
        RoomRecovery.Accept(cursor, "e2", 1);
        RoomRecovery.Accept(cursor, "e2", 2);
        RoomRecovery.Resynced(cursor, "e2", 1);
        Assert.Equal(2, cursor.Offset);

        RoomRecovery.Resynced(cursor, "e3", 0);
        Assert.Equal(("e3", 0L), (cursor.Epoch, cursor.Offset));
        Assert.True(RoomRecovery.Accept(cursor, "e3", 1));
    }

    [Fact]
    public void Late_messages_of_the_epoch_the_cursor_left_are_dropped()
    {
        var rooms = new RoomRecovery();
        var cursor = Joined(rooms, "r", "e1", 10);
        Assert.True(RoomRecovery.Accept(cursor, "e2", 1));

        Assert.False(RoomRecovery.Accept(cursor, "e1", 11)); // in flight from the dead host
        Assert.True(RoomRecovery.Accept(cursor, "e2", 2));
        Assert.Equal(("e2", 2L), (cursor.Epoch, cursor.Offset));
    }
}
