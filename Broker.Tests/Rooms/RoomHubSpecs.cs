using System.Text.Json;
using Akka.Actor;
using Akka.TestKit;
using Broker.Actors.Connections;
using Broker.Actors.Rooms;
using Broker.Contracts.Cluster;
using Broker.Contracts.Protocol;
using Broker.TestKit;
using Xunit;
using static Broker.Contracts.Cluster.RoomCommands;
using static Broker.Contracts.Cluster.RoomEvents;

namespace Broker.Tests.Rooms;

/// <summary>
/// The per-node <see cref="RoomHub"/> with a probe standing in for the rooms shard region, probes
/// standing in for room incarnations (the senders of results and broadcasts, which the hub
/// watches) and probes standing in for local connections.
/// </summary>
public sealed class RoomHubSpecs : Akka.TestKit.Xunit2.TestKit
{
    private const string RoomId = "lobby";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(3);

    private readonly TestProbe _region;
    private readonly IActorRef _hub;
    private TestProbe _room; // the room incarnation the results come from

    public RoomHubSpecs()
    {
        _region = CreateTestProbe("rooms-region");
        _room = CreateTestProbe("room-incarnation-1");
        _hub = Sys.ActorOf(RoomHub.Props(_region.Ref, rejoinInterval: TimeSpan.FromMilliseconds(300)), "room-hub");
    }

    private static byte[] Bytes(string text) => Frame.Json(text);

    private static byte[] Message(long offset, string epoch = "e1") =>
        ServerFrames.Message(RoomId, offset, epoch, "someone", Bytes(offset.ToString()));

    private static string Text(object message) =>
        System.Text.Encoding.UTF8.GetString(Assert.IsType<ConnectionCommands.Deliver>(message).Frame);

    private static JsonElement Parsed(TestProbe connection) =>
        Frame.Parse(connection.ExpectMsg<ConnectionCommands.Deliver>(Wait).Frame);

    /// <summary>The offset of the next <c>message</c> a connection got (asserting that is what it got).</summary>
    private static long NextOffset(TestProbe connection)
    {
        var frame = Parsed(connection);
        Assert.Equal("message", frame.Type());
        return frame.Data().Long("offset");
    }

    private JoinRoom RequestJoin(TestProbe connection, string connectionId, string roomId = RoomId)
    {
        _hub.Tell(new JoinRoom(roomId, connectionId, "user-" + connectionId, connection.Ref, _hub, "j-" + connectionId, null, null), connection.Ref);
        return _region.ExpectMsg<JoinRoom>();
    }

    private void Answer(JoinRoom join, string epoch = "e1", long offset = 0, params byte[][] frames) =>
        _hub.Tell(new JoinResult(join.RoomId, join.ConnectionId, join.Seq, epoch, offset, frames), _room.Ref);

    private void JoinAndAccept(TestProbe connection, string connectionId, string roomId = RoomId, long offset = 0)
    {
        var join = RequestJoin(connection, connectionId, roomId);
        Answer(join, offset: offset, frames: Bytes($"joined-{connectionId}"));
        Assert.Equal($"joined-{connectionId}", Text(connection.ReceiveOne(Wait)));
    }

    private void Broadcast(string text, long offset = 0, string epoch = "e1", string roomId = RoomId, string? exclude = null) =>
        _hub.Tell(new RoomBroadcast(roomId, Bytes(text), exclude, epoch, offset), _room.Ref);

    private void BroadcastMessage(long offset, string epoch = "e1") =>
        _hub.Tell(new RoomBroadcast(RoomId, Message(offset, epoch), null, epoch, offset), _room.Ref);

    [Fact]
    public void A_join_is_forwarded_to_the_room_numbered_with_this_hub_as_the_members_hub()
    {
        var alice = CreateTestProbe();

        var forwarded = RequestJoin(alice, "c1");
        var again = RequestJoin(alice, "c1", "other");

        Assert.Equal(RoomId, forwarded.RoomId);
        Assert.Equal("c1", forwarded.ConnectionId);
        Assert.Equal(alice.Ref, forwarded.Connection);
        Assert.Equal(_hub, forwarded.Hub);
        Assert.Equal("j-c1", forwarded.RequestId);
        Assert.True(forwarded.Seq > 0);
        Assert.True(again.Seq > forwarded.Seq);
    }

    [Fact]
    public void A_pending_member_gets_no_broadcast_until_its_join_result_has_passed_through()
    {
        var alice = CreateTestProbe();
        var join = RequestJoin(alice, "c1");

        Broadcast("older-than-joined");
        Answer(join, frames: [Bytes("missed-1"), Bytes("missed-2"), Bytes("joined")]);
        Broadcast("live-3");

        // The broadcast sent before the join result would have come first; it never comes at all.
        Assert.Equal("missed-1", Text(alice.ReceiveOne(Wait)));
        Assert.Equal("missed-2", Text(alice.ReceiveOne(Wait)));
        Assert.Equal("joined", Text(alice.ReceiveOne(Wait)));
        Assert.Equal("live-3", Text(alice.ReceiveOne(Wait)));
    }

    [Fact]
    public void A_broadcast_reaches_every_local_member_except_the_excluded_connection()
    {
        var (alice, bob) = (CreateTestProbe(), CreateTestProbe());
        JoinAndAccept(alice, "c1");
        JoinAndAccept(bob, "c2");

        Broadcast("from-alice-excluding-self", exclude: "c1");
        Broadcast("for-everyone");

        Assert.Equal("from-alice-excluding-self", Text(bob.ReceiveOne(Wait)));
        Assert.Equal("for-everyone", Text(bob.ReceiveOne(Wait)));
        Assert.Equal("for-everyone", Text(alice.ReceiveOne(Wait))); // the excluded frame never came first
    }

    [Fact]
    public void Every_local_member_gets_the_same_frame_instance()
    {
        var (alice, bob) = (CreateTestProbe(), CreateTestProbe());
        JoinAndAccept(alice, "c1");
        JoinAndAccept(bob, "c2");
        var frame = Bytes("shared");

        _hub.Tell(new RoomBroadcast(RoomId, frame, null, "e1", 0), _room.Ref);

        Assert.Same(frame, alice.ExpectMsg<ConnectionCommands.Deliver>().Frame);
        Assert.Same(frame, bob.ExpectMsg<ConnectionCommands.Deliver>().Frame);
    }

    [Fact]
    public void Broadcasts_of_other_rooms_do_not_reach_a_member()
    {
        var alice = CreateTestProbe();
        JoinAndAccept(alice, "c1");

        Broadcast("not-for-alice", roomId: "elsewhere");
        Broadcast("for-alice");

        Assert.Equal("for-alice", Text(alice.ReceiveOne(Wait)));
    }

    [Fact]
    public void Publishes_go_to_the_room_in_order_and_their_answers_come_back_to_the_connection()
    {
        var alice = CreateTestProbe();
        JoinAndAccept(alice, "c1");

        _hub.Tell(new PublishToRoom(RoomId, "c1", "user-c1", Bytes("1"), false, "p1"), alice.Ref);
        _hub.Tell(new PublishToRoom(RoomId, "c1", "user-c1", Bytes("2"), false, "p2"), alice.Ref);
        var first = _region.ExpectMsg<PublishToRoom>();
        var second = _region.ExpectMsg<PublishToRoom>();
        Assert.Equal(("p1", "p2"), (first.RequestId, second.RequestId));
        Assert.Equal(_hub, _region.LastSender);

        _hub.Tell(new PublishAccepted(RoomId, "p2", 2, "e1", second.Seq), _room.Ref);
        _hub.Tell(new PublishAccepted(RoomId, "p1", 1, "e1", first.Seq), _room.Ref);
        Assert.Equal("p2", alice.ExpectMsg<PublishAccepted>(Wait).RequestId);
        Assert.Equal("p1", alice.ExpectMsg<PublishAccepted>(Wait).RequestId);
    }

    [Fact]
    public void A_room_that_says_a_joined_member_is_not_one_has_lost_it_the_publish_gets_unavailable_and_the_members_are_rejoined()
    {
        // Found by the soak: a publish in flight when the room moved reached its next incarnation
        // before this node's rejoin, and was refused "forbidden" for a member that never left.
        var alice = CreateTestProbe();
        JoinAndAccept(alice, "c1");
        _hub.Tell(new PublishToRoom(RoomId, "c1", "user-c1", Bytes("1"), false, "p1"), alice.Ref);
        var publish = _region.ExpectMsg<PublishToRoom>();

        _hub.Tell(new PublishRejected(RoomId, "p1", ErrorCodes.Forbidden, "join the room before publishing to it", publish.Seq), CreateTestProbe().Ref);

        var refused = alice.ExpectMsg<PublishRejected>(Wait);
        Assert.Equal(("p1", ErrorCodes.Unavailable), (refused.RequestId, refused.Code));
        Assert.Equal(["c1"], _region.ExpectMsg<RejoinRoom>(Wait).Members.Select(m => m.ConnectionId));
    }

    [Fact]
    public void A_leave_is_answered_left_through_the_hub_and_no_broadcast_follows_it()
    {
        var alice = CreateTestProbe();
        JoinAndAccept(alice, "c1");
        JoinAndAccept(alice, "c1", roomId: "other");

        _hub.Tell(new LeaveRoom(RoomId, "c1", "l1", Reply: true), alice.Ref);
        var leave = _region.ExpectMsg<LeaveRoom>();
        Broadcast("after-leave");
        _hub.Tell(new LeaveResult(RoomId, "c1", leave.Seq), _room.Ref);
        Broadcast("still-in-other", roomId: "other");

        var left = Parsed(alice);
        Assert.Equal(("left", "l1"), (left.Type(), left.Id()));
        Assert.Equal("still-in-other", Text(alice.ReceiveOne(Wait)));
    }

    [Fact]
    public void A_join_and_a_leave_sent_back_to_back_are_answered_joined_then_left_every_time()
    {
        // The bug this pins: a join result was dropped when its member had left meanwhile, so 30
        // pipelined join+leave pairs got 30 "left" and no "joined".
        var alice = CreateTestProbe();
        var sent = new List<object>();
        for (var i = 0; i < 30; i++)
        {
            _hub.Tell(new JoinRoom(RoomId, "c1", "alice", alice.Ref, _hub, $"j{i}", null, null), alice.Ref);
            _hub.Tell(new LeaveRoom(RoomId, "c1", $"l{i}", Reply: true), alice.Ref);
            sent.Add(_region.ExpectMsg<JoinRoom>());
            sent.Add(_region.ExpectMsg<LeaveRoom>());
        }
        foreach (var command in sent)
        {
            if (command is JoinRoom join)
                Answer(join, frames: ServerFrames.Joined(join.RequestId, new JoinedData(RoomId, "e1", 0, ["alice"], false)));
            else
                _hub.Tell(new LeaveResult(RoomId, "c1", ((LeaveRoom)command).Seq), _room.Ref);
        }

        for (var i = 0; i < 30; i++)
        {
            var joined = Parsed(alice);
            Assert.Equal(("joined", $"j{i}"), (joined.Type(), joined.Id()));
            var left = Parsed(alice);
            Assert.Equal(("left", $"l{i}"), (left.Type(), left.Id()));
        }
        Broadcast("after-all-left");
        alice.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void When_a_connection_terminates_the_hub_leaves_each_of_its_rooms_without_a_reply()
    {
        var alice = CreateTestProbe();
        JoinAndAccept(alice, "c1", roomId: "lobby");
        JoinAndAccept(alice, "c1", roomId: "games");

        Sys.Stop(alice.Ref);

        var leaves = _region.ReceiveN(2, Wait).Cast<LeaveRoom>().ToArray();
        Assert.Equal(["games", "lobby"], leaves.Select(l => l.RoomId).Order());
        Assert.All(leaves, leave =>
        {
            Assert.Equal("c1", leave.ConnectionId);
            Assert.False(leave.Reply);
            Assert.Null(leave.RequestId);
        });
    }

    [Fact]
    public void A_terminated_pending_member_also_leaves_and_its_late_join_result_is_dropped()
    {
        var alice = CreateTestProbe();
        var watcher = CreateTestProbe();
        watcher.Watch(alice.Ref);
        var join = RequestJoin(alice, "c1");

        Sys.Stop(alice.Ref);
        watcher.ExpectTerminated(alice.Ref);

        Assert.Equal("c1", _region.ExpectMsg<LeaveRoom>().ConnectionId);
        Answer(join, frames: Bytes("joined")); // must not throw or deliver
        var bob = CreateTestProbe();
        JoinAndAccept(bob, "c2"); // the hub is still healthy
    }

    [Fact]
    public void Joining_again_while_already_a_member_loses_no_broadcasts()
    {
        var alice = CreateTestProbe();
        JoinAndAccept(alice, "c1");

        var again = RequestJoin(alice, "c1"); // e.g. a client that re-sends join after a timeout
        Broadcast("live-1"); // sent by the room before it saw the second join
        Answer(again, frames: Bytes("joined-again"));

        Assert.Equal("live-1", Text(alice.ReceiveOne(Wait)));
        Assert.Equal("joined-again", Text(alice.ReceiveOne(Wait)));
    }

    // ---- gaps inside one epoch ----

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

    // ---- the room's node is lost; its members stay ----

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

    // ---- members that joined with their socket ----

    private (TestProbe Connection, ProbeTransport Socket, JoinRoom Join) JoinWithSocket(string connectionId, int capacity = int.MaxValue)
    {
        var connection = CreateTestProbe();
        var socket = new ProbeTransport(CreateTestProbe(), CreateTestProbe(), capacity);
        _hub.Tell(new RoomHub.LocalJoin(
            new JoinRoom(RoomId, connectionId, "user-" + connectionId, connection.Ref, _hub, "j-" + connectionId, null, null), socket), connection.Ref);
        return (connection, socket, _region.ExpectMsg<JoinRoom>());
    }

    private static string Text(ProbeTransport socket) =>
        socket.Outbound.ExpectMsg<ProbeTransport.SentFrame>(Wait).Text;

    [Fact]
    public void A_member_that_joined_with_its_socket_gets_joined_history_and_live_frames_on_it_in_order_without_its_actor()
    {
        var (alice, socket, join) = JoinWithSocket("c1");

        Broadcast("older-than-joined");
        Answer(join, frames: [Bytes("missed-1"), Bytes("joined")]);
        Broadcast("live-2");

        Assert.Equal("missed-1", Text(socket));
        Assert.Equal("joined", Text(socket));
        Assert.Equal("live-2", Text(socket));
        alice.ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // the actor is not a hop on the way
    }

    [Fact]
    public void A_socket_that_refuses_a_frame_gets_no_more_and_its_actor_is_told_once()
    {
        var (slow, slowSocket, slowJoin) = JoinWithSocket("c1", capacity: 1);
        var (_, fastSocket, fastJoin) = JoinWithSocket("c2");
        Answer(slowJoin);
        Answer(fastJoin);

        for (var i = 1; i <= 3; i++) Broadcast($"live-{i}");

        Assert.Equal("live-1", Text(slowSocket));
        slow.ExpectMsg<ConnectionMessages.OutboundRefused>(); // live-2 did not fit
        slowSocket.Drain(); // even with room again, the hub no longer writes: the actor is cutting it off
        Broadcast("live-4");
        for (var i = 1; i <= 4; i++) Assert.Equal($"live-{i}", Text(fastSocket));
        slow.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        slowSocket.Outbound.ExpectNoMsg(TimeSpan.Zero);
    }
}
