using Broker.Actors.Connections;
using Broker.Actors.Rooms;
using Broker.Contracts.Cluster;
using Broker.Contracts.Protocol;
using static Broker.Contracts.Cluster.RoomCommands;
using static Broker.Contracts.Cluster.RoomEvents;

namespace Broker.Tests.Rooms;

public sealed partial class RoomHubSpecs
{
    /// <summary>The room incarnation dies (its node crashed); the hub sees it through DeathWatch.</summary>
    private RejoinRoom KillRoomAndExpectRejoin()
    {
        Sys.Stop(_room.Ref);
        var rejoin = _region.FishForMessage(m => m is RejoinRoom, Wait) as RejoinRoom;
        _room = CreateTestProbe("room-incarnation-next");
        return rejoin!;
    }

    private void AnswerRejoin(RejoinRoom rejoin, string epoch, long offset, bool continuous, params byte[][] frames) =>
        _hub.Tell(new RejoinResult(RoomId, rejoin.Attempt, epoch, offset, ["user-c1"], frames, continuous), _room.Ref);

    [Fact]
    public void When_the_rooms_node_dies_its_members_here_are_rejoined_and_given_the_new_epoch_from_offset_1()
    {
        var (alice, bob) = (CreateTestProbe(), CreateTestProbe());
        JoinAndAccept(alice, "c1");
        JoinAndAccept(bob, "c2");
        BroadcastMessage(1);
        BroadcastMessage(2);
        Assert.Equal([1L, 2L], [NextOffset(alice), NextOffset(alice)]);
        Assert.Equal([1L, 2L], [NextOffset(bob), NextOffset(bob)]);

        var rejoin = KillRoomAndExpectRejoin();

        Assert.Equal(_hub, rejoin.Hub);
        Assert.Equal(["c1", "c2"], rejoin.Members.Select(m => m.ConnectionId).Order());
        Assert.Equal(("e1", 2L), (rejoin.SinceEpoch, rejoin.SinceOffset));
        // Its next incarnation already took a publish from another node before this hub's rejoin.
        AnswerRejoin(rejoin, "e2", 1, continuous: false, Message(1, "e2"));
        _hub.Tell(new RoomBroadcast(RoomId, Message(2, "e2"), null, "e2", 2), _room.Ref);

        foreach (var member in new[] { alice, bob })
        {
            Assert.Equal(1, NextOffset(member));
            var joined = Parsed(member);
            Assert.Equal("joined", joined.Type());
            Assert.Null(joined.Id()); // unasked: PROTOCOL §9.1
            Assert.Equal(("e2", 1L, false), (joined.Data().Str("epoch"), joined.Data().Long("offset"), joined.Data().Bool("recovered")));
            Assert.Equal(2, NextOffset(member));
        }
    }

    [Fact]
    public void While_the_room_moves_publishes_get_unavailable_and_afterwards_go_through_without_a_new_join()
    {
        var alice = CreateTestProbe();
        JoinAndAccept(alice, "c1");
        var rejoin = KillRoomAndExpectRejoin();

        _hub.Tell(new PublishToRoom(RoomId, "c1", "user-c1", Bytes("1"), false, "p1"), alice.Ref);
        var refused = alice.ExpectMsg<PublishRejected>(Wait);
        Assert.Equal(("p1", ErrorCodes.Unavailable), (refused.RequestId, refused.Code));

        AnswerRejoin(rejoin, "e2", 0, continuous: false);
        Assert.Equal("joined", Parsed(alice).Type());
        _hub.Tell(new PublishToRoom(RoomId, "c1", "user-c1", Bytes("1"), false, "p2"), alice.Ref);
        Assert.Equal("p2", _region.FishForMessage(m => m is PublishToRoom, Wait) is PublishToRoom p ? p.RequestId : null);
    }

    [Fact]
    public void A_rejoin_is_sent_again_until_the_next_incarnation_answers_it()
    {
        var alice = CreateTestProbe();
        JoinAndAccept(alice, "c1");
        var first = KillRoomAndExpectRejoin();

        var repeat = _region.ExpectMsg<RejoinRoom>(Wait); // the first may have gone to the dead node
        Assert.Equal(first.Attempt, repeat.Attempt);
        AnswerRejoin(repeat, "e2", 0, continuous: false);
        AnswerRejoin(first, "e2", 0, continuous: false); // a late answer to the first copy

        Assert.Equal("joined", Parsed(alice).Type());
        alice.ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // answered once
        _region.ExpectNoMsg(TimeSpan.FromMilliseconds(500)); // and no more repeats
    }

    [Fact]
    public void A_publish_the_lost_incarnation_never_answered_gets_unavailable_and_one_the_next_answered_gets_its_ack()
    {
        var alice = CreateTestProbe();
        JoinAndAccept(alice, "c1");
        _hub.Tell(new PublishToRoom(RoomId, "c1", "user-c1", Bytes("1"), false, "lost"), alice.Ref);
        _hub.Tell(new PublishToRoom(RoomId, "c1", "user-c1", Bytes("2"), false, "kept"), alice.Ref);
        _region.ExpectMsg<PublishToRoom>();
        var kept = _region.ExpectMsg<PublishToRoom>();

        var rejoin = KillRoomAndExpectRejoin();
        // The region had buffered "kept" and handed it to the next incarnation before the rejoin.
        _hub.Tell(new PublishAccepted(RoomId, "kept", 1, "e2", kept.Seq), _room.Ref);
        AnswerRejoin(rejoin, "e2", 1, continuous: false, Message(1, "e2"));

        var ack = alice.ExpectMsg<PublishAccepted>(Wait);
        Assert.Equal(("kept", 1L, "e2"), (ack.RequestId, ack.Offset, ack.Epoch));
        var lost = alice.FishForMessage(m => m is PublishRejected, Wait) as PublishRejected;
        Assert.Equal(("lost", ErrorCodes.Unavailable), (lost!.RequestId, lost.Code));
    }

    [Fact]
    public void Joins_and_leaves_during_a_move_wait_for_the_next_incarnation_and_an_unanswered_join_is_sent_again()
    {
        var (alice, bob, carol) = (CreateTestProbe(), CreateTestProbe(), CreateTestProbe());
        JoinAndAccept(alice, "c1");
        var bobsJoin = RequestJoin(bob, "c2"); // in flight when the node dies

        var rejoin = KillRoomAndExpectRejoin();
        Assert.Equal(["c1"], rejoin.Members.Select(m => m.ConnectionId)); // only who had its joined
        _hub.Tell(new JoinRoom(RoomId, "c3", "carol", carol.Ref, _hub, "j-c3", null, null), carol.Ref);
        _hub.Tell(new LeaveRoom(RoomId, "c1", "l-c1", Reply: true), alice.Ref);
        // Held, not sent to a room that is not there (only the rejoin's repeats may go out meanwhile).
        Assert.All(_region.ReceiveWhile(TimeSpan.FromMilliseconds(100), m => m), m => Assert.IsType<RejoinRoom>(m));
        AnswerRejoin(rejoin, "e2", 0, continuous: false);

        var resent = _region.FishForMessage(m => m is JoinRoom, Wait) as JoinRoom;
        Assert.Equal("c2", resent!.ConnectionId);
        Assert.NotEqual(bobsJoin.Seq, resent.Seq);
        Assert.Equal("c3", _region.ExpectMsg<JoinRoom>(Wait).ConnectionId);
        Assert.Equal("c1", _region.ExpectMsg<LeaveRoom>(Wait).ConnectionId);
        Answer(bobsJoin, epoch: "e2", frames: Bytes("stale")); // the first copy's answer: dropped
        Answer(resent, epoch: "e2", frames: Bytes("joined-c2"));
        Assert.Equal("joined-c2", Text(bob.ReceiveOne(Wait)));
    }

    [Fact]
    public void A_broadcast_of_a_new_epoch_moves_the_members_even_before_the_old_incarnations_death_is_known()
    {
        var alice = CreateTestProbe();
        JoinAndAccept(alice, "c1");
        BroadcastMessage(1);
        Assert.Equal(1, NextOffset(alice));

        BroadcastMessage(1, epoch: "e2"); // e.g. the room restarted after a crash: same ref, new history
        var rejoin = _region.ExpectMsg<RejoinRoom>(Wait);
        Assert.Equal(("e1", 1L), (rejoin.SinceEpoch, rejoin.SinceOffset));
        AnswerRejoin(rejoin, "e2", 1, continuous: false, Message(1, "e2"));

        Assert.Equal(1, NextOffset(alice));
        Assert.Equal("joined", Parsed(alice).Type());
        BroadcastMessage(2, epoch: "e2");
        Assert.Equal(2, NextOffset(alice)); // the held e2/1 was not delivered twice
        alice.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void A_room_that_kept_its_history_gives_only_what_was_missed_and_no_joined()
    {
        var alice = CreateTestProbe();
        JoinAndAccept(alice, "c1");
        BroadcastMessage(1);
        Assert.Equal(1, NextOffset(alice));

        var rejoin = KillRoomAndExpectRejoin();
        AnswerRejoin(rejoin, "e1", 3, continuous: true, Message(2), Message(3));

        Assert.Equal([2L, 3L], [NextOffset(alice), NextOffset(alice)]);
        alice.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void A_join_that_no_room_answers_in_time_is_sent_again_once_the_room_is_back()
    {
        // E.g. a client reconnected here after its node died, and the room lived on that node too:
        // the region routes the join to the dead node until the cluster downs it.
        var region = CreateTestProbe();
        var hub = Sys.ActorOf(RoomHub.Props(region.Ref, TimeSpan.FromMilliseconds(300), firstAnswerTimeout: TimeSpan.FromMilliseconds(300)));
        var alice = CreateTestProbe();
        hub.Tell(new JoinRoom(RoomId, "c1", "alice", alice.Ref, hub, "j1", "e1", 4), alice.Ref);
        var lost = region.ExpectMsg<JoinRoom>();

        var rejoin = region.ExpectMsg<RejoinRoom>(Wait);
        Assert.Empty(rejoin.Members);
        hub.Tell(new RejoinResult(RoomId, rejoin.Attempt, "e2", 0, [], [], Continuous: false), _room.Ref);

        var again = region.FishForMessage(m => m is JoinRoom, Wait) as JoinRoom;
        Assert.Equal(("c1", "j1", "e1", 4L), (again!.ConnectionId, again.RequestId, again.SinceEpoch, again.SinceOffset!.Value));
        hub.Tell(new JoinResult(RoomId, "c1", lost.Seq, "e2", 0, [Bytes("stale")]), _room.Ref);
        hub.Tell(new JoinResult(RoomId, "c1", again.Seq, "e2", 0, [Bytes("joined")]), _room.Ref);
        Assert.Equal("joined", Text(alice.ReceiveOne(Wait)));
        alice.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }
}
