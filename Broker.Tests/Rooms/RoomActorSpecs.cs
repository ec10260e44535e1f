using Akka.Cluster.Sharding;
using Broker.Actors.Connections;
using Broker.Actors.Rooms;
using Broker.Contracts.Cluster;
using Broker.Contracts.Protocol;
using static Broker.Contracts.Cluster.RoomCommands;
using static Broker.Contracts.Cluster.RoomEvents;

namespace Broker.Tests.Rooms;

/// <summary>
/// A <see cref="RoomActor"/> on its own, with probes standing in for the node hubs it fans out to
/// and the connections that publish. Read top to bottom, these are examples of the room protocol.
/// </summary>
public sealed partial class RoomActorSpecs : Akka.TestKit.Xunit2.TestKit
{
    private const string RoomId = "lobby";
    private static readonly TimeSpan LongIdle = TimeSpan.FromMinutes(5);

    private IActorRef NewRoom(int historySize = 100, TimeSpan? idleTimeout = null) =>
        Sys.ActorOf(RoomActor.Props(RoomId, new RoomSettings(historySize, idleTimeout ?? LongIdle)));

    private static JoinResult Join(IActorRef room, TestProbe hub, TestProbe connection, string connectionId, string userId,
        string? requestId = null, string? sinceEpoch = null, long? sinceOffset = null, bool announced = true)
    {
        room.Tell(new JoinRoom(RoomId, connectionId, userId, connection.Ref, hub.Ref, requestId, sinceEpoch, sinceOffset), connection.Ref);
        var result = hub.ExpectMsg<JoinResult>();
        Assert.Equal(connectionId, result.ConnectionId);
        // A user's first connection is announced to every hub with members, its own hub included;
        // that copy names the joiner's connection, so the hub does not tell the joiner about itself.
        if (announced) ExpectPresence(hub, "join", userId, excluding: connectionId);
        return result;
    }

    private static PublishAccepted Publish(IActorRef room, TestProbe publisher, string? connectionId, string from, string payload,
        bool excludeSelf = false, string? requestId = null)
    {
        room.Tell(new PublishToRoom(RoomId, connectionId, from, Frame.Json(payload), excludeSelf, requestId), publisher.Ref);
        return publisher.ExpectMsg<PublishAccepted>();
    }

    private static JsonElement Joined(JoinResult result)
    {
        var joined = Frame.Parse(result.Frames[^1]);
        Assert.Equal("joined", joined.Type());
        return joined.Data();
    }

    private static void ExpectPresence(TestProbe hub, string @event, string user, string? excluding)
    {
        var broadcast = hub.ExpectMsg<RoomBroadcast>();
        var frame = Frame.Parse(broadcast.Frame);
        Assert.Equal("presence", frame.Type());
        Assert.Equal(RoomId, frame.Data().Str("room"));
        Assert.Equal(@event, frame.Data().Str("event"));
        Assert.Equal(user, frame.Data().Str("user"));
        Assert.Equal(excluding, broadcast.ExcludeConnectionId);
    }

    private static JsonElement ExpectMessage(TestProbe hub, long offset, string? excluding = null)
    {
        var broadcast = hub.ExpectMsg<RoomBroadcast>();
        Assert.Equal(RoomId, broadcast.RoomId);
        Assert.Equal(excluding, broadcast.ExcludeConnectionId);
        var frame = Frame.Parse(broadcast.Frame);
        Assert.Equal("message", frame.Type());
        Assert.Equal(offset, frame.Data().Long("offset"));
        return frame;
    }

    [Fact]
    public void Joining_an_empty_room_answers_through_the_members_hub_with_a_joined_frame()
    {
        var room = NewRoom();
        var hub = CreateTestProbe();
        var alice = CreateTestProbe();

        var result = Join(room, hub, alice, "c1", "alice", requestId: "j1");

        Assert.Equal(RoomId, result.RoomId);
        Assert.Equal(0, result.Offset);
        var joined = Assert.Single(result.Frames.Select(Frame.Parse));
        Assert.Equal("joined", joined.Type());
        Assert.Equal("j1", joined.Id());
        Assert.Equal(RoomId, joined.Data().Str("room"));
        Assert.Equal(0, joined.Data().Long("offset"));
        Assert.Equal(["alice"], joined.Data().Strings("members"));
        Assert.False(joined.Data().Bool("recovered"));
        Assert.False(string.IsNullOrEmpty(joined.Data().Str("epoch")));
        alice.ExpectNoMsg(TimeSpan.FromMilliseconds(100)); // the room never answers a join to the connection directly
    }

    [Fact]
    public void A_member_joining_on_another_node_is_announced_to_the_first_members_hub()
    {
        var room = NewRoom();
        var (hubA, hubB) = (CreateTestProbe(), CreateTestProbe());
        Join(room, hubA, CreateTestProbe(), "c1", "alice");

        var bobJoined = Joined(Join(room, hubB, CreateTestProbe(), "c2", "bob"));

        Assert.Equal(["alice", "bob"], bobJoined.Strings("members"));
        ExpectPresence(hubA, "join", "bob", excluding: "c2");
    }

    [Fact]
    public void A_second_connection_of_a_user_already_in_the_room_is_not_announced()
    {
        var room = NewRoom();
        var (hubA, hubB) = (CreateTestProbe(), CreateTestProbe());
        Join(room, hubA, CreateTestProbe(), "c1", "alice");
        Join(room, hubB, CreateTestProbe(), "c2", "bob");
        ExpectPresence(hubA, "join", "bob", excluding: "c2");

        Join(room, hubB, CreateTestProbe(), "c3", "bob", announced: false);
        Publish(room, CreateTestProbe(), null, "server", "1");

        ExpectMessage(hubA, offset: 1); // the next thing hub A hears is the message, not a second "bob joined"
    }

    [Fact]
    public void A_publish_is_broadcast_once_per_hub_and_acknowledged_to_the_sender_with_offsets_in_order()
    {
        var room = NewRoom();
        var (hubA, hubB) = (CreateTestProbe(), CreateTestProbe());
        var alice = CreateTestProbe();
        var epoch = Joined(Join(room, hubA, alice, "c1", "alice")).Str("epoch");
        Join(room, hubA, CreateTestProbe(), "c2", "bob"); // same node as alice
        Join(room, hubB, CreateTestProbe(), "c3", "carol");
        ExpectPresence(hubA, "join", "carol", excluding: "c3");

        var acks = Enumerable.Range(1, 3)
            .Select(n => Publish(room, alice, "c1", "alice", $$"""{"n":{{n}}}""", requestId: $"p{n}"))
            .ToArray();

        Assert.Equal([1L, 2L, 3L], acks.Select(a => a.Offset));
        Assert.Equal(["p1", "p2", "p3"], acks.Select(a => a.RequestId));
        foreach (var hub in new[] { hubA, hubB })
        {
            // One broadcast per publish, whatever the number of local members: offsets 1, 2, 3 and nothing twice.
            for (var n = 1; n <= 3; n++)
            {
                var frame = ExpectMessage(hub, offset: n);
                Assert.False(frame.TryGetProperty("id", out _));
                Assert.Equal(RoomId, frame.Data().Str("room"));
                Assert.Equal(epoch, frame.Data().Str("epoch"));
                Assert.Equal("alice", frame.Data().Str("from"));
                Assert.Equal(n, frame.Data().GetProperty("payload").GetProperty("n").GetInt32());
            }
        }
    }

    [Fact]
    public void A_publish_with_excludeSelf_tells_the_hub_to_skip_the_publishers_connection()
    {
        var room = NewRoom();
        var hub = CreateTestProbe();
        var alice = CreateTestProbe();
        Join(room, hub, alice, "c1", "alice");

        Publish(room, alice, "c1", "alice", "\"quiet\"", excludeSelf: true);
        Publish(room, alice, "c1", "alice", "\"loud\"", excludeSelf: false);

        ExpectMessage(hub, offset: 1, excluding: "c1");
        ExpectMessage(hub, offset: 2, excluding: null);
    }

    [Fact]
    public void A_connection_that_is_not_a_member_cannot_publish()
    {
        var room = NewRoom();
        var hub = CreateTestProbe();
        Join(room, hub, CreateTestProbe(), "c1", "alice");
        var mallory = CreateTestProbe();

        room.Tell(new PublishToRoom(RoomId, "c9", "mallory", Frame.Json("1"), false, "p1"), mallory.Ref);

        var rejected = mallory.ExpectMsg<PublishRejected>();
        Assert.Equal(RoomId, rejected.RoomId);
        Assert.Equal("p1", rejected.RequestId);
        Assert.Equal(ErrorCodes.Forbidden, rejected.Code);
        // The refused publish took no offset: the next accepted one is still 1.
        Assert.Equal(1, Publish(room, CreateTestProbe(), null, "server", "2").Offset);
        ExpectMessage(hub, offset: 1);
    }

    [Fact]
    public void The_back_end_publishes_without_being_a_member()
    {
        var room = NewRoom();
        var hub = CreateTestProbe();
        Join(room, hub, CreateTestProbe(), "c1", "alice");
        var api = CreateTestProbe();

        var accepted = Publish(room, api, connectionId: null, from: "server", payload: """{"alert":true}""");

        Assert.Equal(1, accepted.Offset);
        Assert.Null(accepted.RequestId);
        var frame = ExpectMessage(hub, offset: 1);
        Assert.Equal("server", frame.Data().Str("from"));
        Assert.True(frame.Data().GetProperty("payload").GetProperty("alert").GetBoolean());
    }

    [Fact]
    public void Leaving_answers_the_leavers_hub_and_tells_the_others()
    {
        var room = NewRoom();
        var (hubA, hubB) = (CreateTestProbe(), CreateTestProbe());
        Join(room, hubA, CreateTestProbe(), "c1", "alice");
        var bob = CreateTestProbe();
        Join(room, hubB, bob, "c2", "bob");
        ExpectPresence(hubA, "join", "bob", excluding: "c2");

        room.Tell(new LeaveRoom(RoomId, "c2", "l1", Reply: true, Seq: 7), hubB.Ref);

        // Through the hub, which answers "left" after anything the room sent before it.
        Assert.Equal(new LeaveResult(RoomId, "c2", 7), hubB.ExpectMsg<LeaveResult>());
        bob.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        ExpectPresence(hubA, "leave", "bob", excluding: null);
        room.Tell(new GetRoomInfo(RoomId));
        Assert.Equal(["alice"], ExpectMsg<RoomInfo>().Members);
    }

    [Fact]
    public void A_disconnect_leaves_without_answering_anyone()
    {
        var room = NewRoom();
        var hub = CreateTestProbe();
        Join(room, hub, CreateTestProbe(), "c1", "alice");
        var bob = CreateTestProbe();
        Join(room, hub, bob, "c2", "bob");

        room.Tell(new LeaveRoom(RoomId, "c2", null, Reply: false), hub.Ref);

        ExpectPresence(hub, "leave", "bob", excluding: null);
        bob.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void When_a_hub_terminates_its_members_leave_the_room()
    {
        var room = NewRoom();
        var (hubA, hubB) = (CreateTestProbe(), CreateTestProbe());
        Join(room, hubA, CreateTestProbe(), "c1", "alice");
        Join(room, hubB, CreateTestProbe(), "c2", "bob");
        Join(room, hubB, CreateTestProbe(), "c3", "carol");
        ExpectPresence(hubA, "join", "bob", excluding: "c2");
        ExpectPresence(hubA, "join", "carol", excluding: "c3");

        Sys.Stop(hubB.Ref); // hub B's node is gone

        var left = hubA.ReceiveN(2).Cast<RoomBroadcast>().Select(b => Frame.Parse(b.Frame).Data()).ToArray();
        Assert.All(left, presence => Assert.Equal("leave", presence.Str("event")));
        Assert.Equal(["bob", "carol"], left.Select(p => p.Str("user")).Order());
        room.Tell(new GetRoomInfo(RoomId));
        Assert.Equal(["alice"], ExpectMsg<RoomInfo>().Members);
    }

    [Fact]
    public void Room_info_tells_members_offset_and_epoch()
    {
        var room = NewRoom();
        var epoch = Joined(Join(room, CreateTestProbe(), CreateTestProbe(), "c1", "alice")).Str("epoch");
        Join(room, CreateTestProbe(), CreateTestProbe(), "c2", "bob");
        Publish(room, CreateTestProbe(), null, "server", "1");

        room.Tell(new GetRoomInfo(RoomId));

        var info = ExpectMsg<RoomInfo>();
        Assert.Equal(new[] { "alice", "bob" }, info.Members);
        Assert.Equal(1, info.Offset);
        Assert.Equal(epoch, info.Epoch);
    }
}
