using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Broker.Actors.Connections;
using Broker.Actors.Rooms;
using Broker.Tests.Actors;
using Xunit;
using static Broker.Contracts.Cluster.RoomCommands;
using static Broker.Contracts.Cluster.RoomEvents;

namespace Broker.Tests.Rooms;

/// <summary>
/// The per-node <see cref="RoomHub"/> with a probe standing in for the rooms shard region and
/// probes standing in for local connections.
/// </summary>
public sealed class RoomHubSpecs : TestKit
{
    private const string RoomId = "lobby";

    private readonly TestProbe _region;
    private readonly IActorRef _hub;

    public RoomHubSpecs()
    {
        _region = CreateTestProbe("rooms-region");
        _hub = Sys.ActorOf(RoomHub.Props(_region.Ref), "room-hub");
    }

    private static byte[] Bytes(string text) => Frame.Json(text);

    private static string Text(object message) =>
        System.Text.Encoding.UTF8.GetString(Assert.IsType<ConnectionMessages.Deliver>(message).Frame);

    private JoinRoom RequestJoin(TestProbe connection, string connectionId, string roomId = RoomId)
    {
        _hub.Tell(new JoinRoom(roomId, connectionId, "user-" + connectionId, connection.Ref, _hub, "j-" + connectionId, null, null), connection.Ref);
        return _region.ExpectMsg<JoinRoom>();
    }

    private void JoinAndAccept(TestProbe connection, string connectionId, string roomId = RoomId)
    {
        RequestJoin(connection, connectionId, roomId);
        _hub.Tell(new JoinResult(roomId, connectionId, true, [Bytes($"joined-{connectionId}")]));
        Assert.Equal($"joined-{connectionId}", Text(connection.ReceiveOne(TimeSpan.FromSeconds(3))));
    }

    [Fact]
    public void A_join_is_forwarded_to_the_room_with_this_hub_as_the_members_hub()
    {
        var alice = CreateTestProbe();

        var forwarded = RequestJoin(alice, "c1");

        Assert.Equal(RoomId, forwarded.RoomId);
        Assert.Equal("c1", forwarded.ConnectionId);
        Assert.Equal(alice.Ref, forwarded.Connection);
        Assert.Equal(_hub, forwarded.Hub);
        Assert.Equal("j-c1", forwarded.RequestId);
    }

    [Fact]
    public void A_pending_member_gets_no_broadcast_until_its_join_result_has_passed_through()
    {
        var alice = CreateTestProbe();
        RequestJoin(alice, "c1");

        _hub.Tell(new RoomBroadcast(RoomId, Bytes("older-than-joined"), null));
        _hub.Tell(new JoinResult(RoomId, "c1", true, [Bytes("missed-1"), Bytes("missed-2"), Bytes("joined")]));
        _hub.Tell(new RoomBroadcast(RoomId, Bytes("live-3"), null));

        // The broadcast sent before the join result would have come first; it never comes at all.
        Assert.Equal("missed-1", Text(alice.ReceiveOne(TimeSpan.FromSeconds(3))));
        Assert.Equal("missed-2", Text(alice.ReceiveOne(TimeSpan.FromSeconds(3))));
        Assert.Equal("joined", Text(alice.ReceiveOne(TimeSpan.FromSeconds(3))));
        Assert.Equal("live-3", Text(alice.ReceiveOne(TimeSpan.FromSeconds(3))));
    }

    [Fact]
    public void A_refused_join_delivers_its_frames_and_the_connection_gets_no_broadcasts()
    {
        var alice = CreateTestProbe();
        var bob = CreateTestProbe();
        JoinAndAccept(bob, "c2");
        RequestJoin(alice, "c1");

        _hub.Tell(new JoinResult(RoomId, "c1", false, [Bytes("error-forbidden")]));
        _hub.Tell(new RoomBroadcast(RoomId, Bytes("live-1"), null));

        Assert.Equal("error-forbidden", Text(alice.ReceiveOne(TimeSpan.FromSeconds(3))));
        Assert.Equal("live-1", Text(bob.ReceiveOne(TimeSpan.FromSeconds(3))));
        alice.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void A_broadcast_reaches_every_local_member_except_the_excluded_connection()
    {
        var (alice, bob) = (CreateTestProbe(), CreateTestProbe());
        JoinAndAccept(alice, "c1");
        JoinAndAccept(bob, "c2");

        _hub.Tell(new RoomBroadcast(RoomId, Bytes("from-alice-excluding-self"), ExcludeConnectionId: "c1"));
        _hub.Tell(new RoomBroadcast(RoomId, Bytes("for-everyone"), ExcludeConnectionId: null));

        Assert.Equal("from-alice-excluding-self", Text(bob.ReceiveOne(TimeSpan.FromSeconds(3))));
        Assert.Equal("for-everyone", Text(bob.ReceiveOne(TimeSpan.FromSeconds(3))));
        Assert.Equal("for-everyone", Text(alice.ReceiveOne(TimeSpan.FromSeconds(3)))); // the excluded frame never came first
    }

    [Fact]
    public void Every_local_member_gets_the_same_frame_instance()
    {
        var (alice, bob) = (CreateTestProbe(), CreateTestProbe());
        JoinAndAccept(alice, "c1");
        JoinAndAccept(bob, "c2");
        var frame = Bytes("shared");

        _hub.Tell(new RoomBroadcast(RoomId, frame, null));

        Assert.Same(frame, alice.ExpectMsg<ConnectionMessages.Deliver>().Frame);
        Assert.Same(frame, bob.ExpectMsg<ConnectionMessages.Deliver>().Frame);
    }

    [Fact]
    public void Broadcasts_of_other_rooms_do_not_reach_a_member()
    {
        var alice = CreateTestProbe();
        JoinAndAccept(alice, "c1");

        _hub.Tell(new RoomBroadcast("elsewhere", Bytes("not-for-alice"), null));
        _hub.Tell(new RoomBroadcast(RoomId, Bytes("for-alice"), null));

        Assert.Equal("for-alice", Text(alice.ReceiveOne(TimeSpan.FromSeconds(3))));
    }

    [Fact]
    public void Publishes_and_leaves_go_to_the_room_in_the_order_the_connection_sent_them_with_the_connection_as_sender()
    {
        var alice = CreateTestProbe();
        JoinAndAccept(alice, "c1");

        _hub.Tell(new PublishToRoom(RoomId, "c1", "user-c1", Bytes("1"), false, "p1"), alice.Ref);
        _hub.Tell(new LeaveRoom(RoomId, "c1", "l1", Reply: true), alice.Ref);

        Assert.Equal("p1", _region.ExpectMsg<PublishToRoom>().RequestId);
        Assert.Equal(alice.Ref, _region.LastSender);
        Assert.Equal("l1", _region.ExpectMsg<LeaveRoom>().RequestId);
        Assert.Equal(alice.Ref, _region.LastSender); // so the room answers "left" to the connection itself
    }

    [Fact]
    public void After_leaving_a_member_gets_no_more_broadcasts()
    {
        var alice = CreateTestProbe();
        JoinAndAccept(alice, "c1");
        JoinAndAccept(alice, "c1", roomId: "other");

        _hub.Tell(new LeaveRoom(RoomId, "c1", null, Reply: true), alice.Ref);
        _region.ExpectMsg<LeaveRoom>();
        _hub.Tell(new RoomBroadcast(RoomId, Bytes("after-leave"), null));
        _hub.Tell(new RoomBroadcast("other", Bytes("still-in-other"), null));

        Assert.Equal("still-in-other", Text(alice.ReceiveOne(TimeSpan.FromSeconds(3))));
    }

    [Fact]
    public void When_a_connection_terminates_the_hub_leaves_each_of_its_rooms_without_a_reply()
    {
        var alice = CreateTestProbe();
        JoinAndAccept(alice, "c1", roomId: "lobby");
        JoinAndAccept(alice, "c1", roomId: "games");

        Sys.Stop(alice.Ref);

        var leaves = _region.ReceiveN(2, TimeSpan.FromSeconds(3)).Cast<LeaveRoom>().ToArray();
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
        RequestJoin(alice, "c1");

        Sys.Stop(alice.Ref);
        watcher.ExpectTerminated(alice.Ref);

        Assert.Equal("c1", _region.ExpectMsg<LeaveRoom>().ConnectionId);
        _hub.Tell(new JoinResult(RoomId, "c1", true, [Bytes("joined")])); // must not throw or deliver
        var bob = CreateTestProbe();
        JoinAndAccept(bob, "c2"); // the hub is still healthy
    }

    [Fact]
    public void Joining_again_while_already_a_member_loses_no_broadcasts()
    {
        var alice = CreateTestProbe();
        JoinAndAccept(alice, "c1");

        RequestJoin(alice, "c1"); // e.g. a client that re-sends join after a timeout
        _hub.Tell(new RoomBroadcast(RoomId, Bytes("live-1"), null)); // sent by the room before it saw the second join
        _hub.Tell(new JoinResult(RoomId, "c1", true, [Bytes("joined-again")]));

        Assert.Equal("live-1", Text(alice.ReceiveOne(TimeSpan.FromSeconds(3))));
        Assert.Equal("joined-again", Text(alice.ReceiveOne(TimeSpan.FromSeconds(3))));
    }

    // ---- members that joined with their socket ----

    private (TestProbe Connection, ProbeTransport Socket) JoinWithSocket(string connectionId, int capacity = int.MaxValue)
    {
        var connection = CreateTestProbe();
        var socket = new ProbeTransport(CreateTestProbe(), CreateTestProbe(), capacity);
        _hub.Tell(new RoomHub.LocalJoin(
            new JoinRoom(RoomId, connectionId, "user-" + connectionId, connection.Ref, _hub, "j-" + connectionId, null, null), socket), connection.Ref);
        _region.ExpectMsg<JoinRoom>();
        return (connection, socket);
    }

    private static string Text(ProbeTransport socket) =>
        socket.Outbound.ExpectMsg<ProbeTransport.SentFrame>(TimeSpan.FromSeconds(3)).Text;

    [Fact]
    public void A_member_that_joined_with_its_socket_gets_joined_history_and_live_frames_on_it_in_order_without_its_actor()
    {
        var (alice, socket) = JoinWithSocket("c1");

        _hub.Tell(new RoomBroadcast(RoomId, Bytes("older-than-joined"), null));
        _hub.Tell(new JoinResult(RoomId, "c1", true, [Bytes("missed-1"), Bytes("joined")]));
        _hub.Tell(new RoomBroadcast(RoomId, Bytes("live-2"), null));

        Assert.Equal("missed-1", Text(socket));
        Assert.Equal("joined", Text(socket));
        Assert.Equal("live-2", Text(socket));
        alice.ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // the actor is not a hop on the way
    }

    [Fact]
    public void A_socket_that_refuses_a_frame_gets_no_more_and_its_actor_is_told_once()
    {
        var (slow, slowSocket) = JoinWithSocket("c1", capacity: 1);
        var (_, fastSocket) = JoinWithSocket("c2");
        _hub.Tell(new JoinResult(RoomId, "c1", true, []));
        _hub.Tell(new JoinResult(RoomId, "c2", true, []));

        for (var i = 1; i <= 3; i++) _hub.Tell(new RoomBroadcast(RoomId, Bytes($"live-{i}"), null));

        Assert.Equal("live-1", Text(slowSocket));
        slow.ExpectMsg<ConnectionMessages.OutboundRefused>(); // live-2 did not fit
        slowSocket.Drain(); // even with room again, the hub no longer writes: the actor is cutting it off
        _hub.Tell(new RoomBroadcast(RoomId, Bytes("live-4"), null));
        for (var i = 1; i <= 4; i++) Assert.Equal($"live-{i}", Text(fastSocket));
        slow.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        slowSocket.Outbound.ExpectNoMsg(TimeSpan.Zero);
    }
}
