using System.Text;
using Akka.Hosting;
using Broker.Actors.Rooms;
using Broker.Actors.Serialization;
using Broker.Contracts.Cluster;
using Microsoft.Extensions.DependencyInjection;
using static Broker.Contracts.Cluster.RoomCommands;
using static Broker.Contracts.Cluster.RoomEvents;
using static Broker.Contracts.Cluster.UserCommands;
using static Broker.Contracts.Cluster.UserEvents;

namespace Broker.Tests.Serialization;

/// <summary>Every message that crosses nodes round-trips through the broker's own serializer, registered as the host registers it.</summary>
public sealed class ClusterSerializerTests() : Akka.TestKit.Xunit2.TestKit(SystemWithBrokerSerializer())
{
    private static readonly byte[] Frame = Encoding.UTF8.GetBytes("""{"type":"message","data":{"room":"r","offset":7,"epoch":"e","from":"ü","payload":{"a":[1,2,"x"]}}}""");
    private static readonly byte[] Payload = Encoding.UTF8.GetBytes("""{"text":"héllo \"quoted\"","n":1.5e3,"list":[null,true]}""");

    private static ActorSystem SystemWithBrokerSerializer() =>
        new ServiceCollection().AddAkka("serializer-specs", akka => akka.AddBrokerSerializer())
            .BuildServiceProvider().GetRequiredService<ActorSystem>();

    private IEnumerable<object> Samples() =>
    [
        new JoinRoom("lobby", "c1", "alice", TestActor, CreateTestProbe().Ref, "j1", "epoch-1", 42, Seq: 9),
        new JoinRoom("lobby", "c1", "alice", TestActor, TestActor, null, null, null),
        new LeaveRoom("lobby", "c1", "l1", true, Seq: 10),
        new LeaveRoom("lobby", "c1", null, false),
        new PublishToRoom("lobby", "c1", "alice", Payload, true, "p1", Seq: 11),
        new PublishToRoom("lobby", null, "server", Encoding.UTF8.GetBytes("42"), false, null),
        new PublishToRoom("lobby", "c1", "alice", Payload, false, "p2", Seq: 12, IdempotencyKey: "k-\"ü\"-1"),
        new JoinRejected("lobby", "c1", 9, "j1", "unavailable", "the room's store is unreachable"),
        new JoinRejected("lobby", "c1", 9, null, "unavailable", "x"),
        new RoomUnavailable("lobby", "the room's store is unreachable"),
        new RoomEpochStarted("0123456789abcdef"),
        new RoomMessagePublished(7, Frame, 1_700_000_000_000, "key-1"),
        new RoomMessagePublished(8, Frame, 1_700_000_000_001, null),
        new RoomMessagesPublished([new RoomMessagePublished(9, Frame, 1_700_000_000_002, "key-\"ü\"-2"), new RoomMessagePublished(10, Frame, 1_700_000_000_003, null)]),
        new RoomSnapshot("e1", 8, [new RoomSnapshotMessage(7, Frame, 1_700_000_000_000), new RoomSnapshotMessage(8, Frame, 1_700_000_000_001)],
            [new RoomSnapshotKey("key-1", 7, 1_700_000_000_000)]),
        new RoomSnapshot("e1", 0, [], []),
        new GetRoomInfo("lobby"),
        new RoomBroadcast("lobby", Frame, "c9", "e1", 7),
        new JoinResult("lobby", "c1", 9, "e1", 7, [Frame, Frame]),
        new LeaveResult("lobby", "c1", 10),
        new PublishAccepted("lobby", "p1", 7, "e1", Seq: 11),
        new PublishAccepted("lobby", null, 8, "e1"),
        new PublishRejected("lobby", "p1", "forbidden", "join first"),
        new PublishRejected("lobby", "p1", "unavailable", "moving", Seq: 12),
        new RejoinRoom("lobby", TestActor, [new RejoiningMember("c1", "alice"), new RejoiningMember("c2", "bob")], "e1", 7, 2),
        new RejoinRoom("lobby", TestActor, [], null, 0, 1),
        new RejoinResult("lobby", 2, "e2", 3, ["alice"], [Frame, Frame, Frame], Continuous: false),
        new FetchHistory("lobby", "e1", 4, 6),
        new HistoryRange("lobby", "e1", 5, 6, [Frame, Frame], Complete: true, ["alice"]),
        new RoomInfo("lobby", ["alice", "bob"], 7, "epoch-1"),
        new RegisterConnection("alice", "c1", TestActor),
        new RegisterConnection("alice", "c1", TestActor, Confirm: true),
        new RegisterConnection("alice", "c1", TestActor, Confirm: true, Limit: 3),
        new ConnectionRegistered("alice", "c1"),
        new ConnectionRefused("alice", "c1", 3),
        new UnregisterConnection("alice", "c1"),
        new UpdateRooms("alice", "c1", ["lobby", "news"]),
        new SendToUser("bob", "alice", Payload, "s1"),
        new SendToUser("bob", "alice", Payload, "s1", Seq: 5),
        new GetUserStatus("bob"),
        new DirectDelivered("s1", 3),
        new DirectDelivered("s1", 3, Seq: 5),
        new UserStatus("bob", true, 2, ["lobby"]),
        new DisconnectUser("bob", 4500, "disconnected"),
        new UserDisconnected("bob", 2),
        new GetUserConnections("bob"),
        new UserConnections("bob", [new UserConnection("c1", "127.0.0.1:4001", ["lobby", "news"]), new UserConnection("c2", "127.0.0.1:4002", [])]),
        new UserConnections("bob", []),
        new NodeReportQueries.GetNodeReport(20),
        new NodeReportEvents.NodeReport("127.0.0.1:4001", 3, 2,
            [new NodeReportEvents.NodeSample(1_700_000_000_000, 3, 12.5, 250), new NodeReportEvents.NodeSample(1_700_000_001_000, 2, 0, 0)],
            [new NodeReportEvents.RoomConnections("lobby", 2), new NodeReportEvents.RoomConnections("news:\"ü\"", 1)], 2,
            [new NodeReportEvents.CutOffCount(1008, "heartbeat timeout", 4)],
            [new NodeReportEvents.CutOff(1_700_000_000_500, "c9", "alice", "chat", 1008, "heartbeat timeout"),
             new NodeReportEvents.CutOff(1_700_000_000_400, "c8", null, "chat", 4401, "auth timeout")]),
        new NodeReportEvents.NodeReport("127.0.0.1:4002", 0, 0, [], [], 0, [], []),
        new ConnectionCommands.Deliver(Frame),
        new ConnectionCommands.CloseConnection(4500, "disconnected"),
        new TicketCommands.StoreTicket("t1", "alice", 1_800_000_000_000, "127.0.0.1", 1_700_000_030_000),
        new TicketCommands.RedeemTicket("t1", "127.0.0.1"),
        new TicketEvents.TicketStored("t1"),
        new TicketEvents.TicketRedeemed("t1", "alice", 1_800_000_000_000, 1_700_000_030_000),
        new TicketEvents.TicketRedeemed("t1", null, 0, 0),
        new RouteCommands.DeliverToRoute("notifications", "server", Payload),
    ];

    [Fact]
    public void Every_cluster_message_round_trips_byte_for_byte()
    {
        foreach (var message in Samples())
        {
            var serializer = Sys.Serialization.FindSerializerFor(message);
            Assert.IsType<BrokerClusterSerializer>(serializer);
            var manifest = ((Akka.Serialization.SerializerWithStringManifest)serializer).Manifest(message);
            var bytes = serializer.ToBinary(message);
            var copy = Sys.Serialization.Deserialize(bytes, serializer.Identifier, manifest);
            Assert.IsType(message.GetType(), copy);
            Assert.Equal(bytes, serializer.ToBinary(copy));
        }
    }

    [Fact]
    public void Actor_references_and_raw_json_survive_the_trip()
    {
        var hub = CreateTestProbe().Ref;
        var join = new JoinRoom("lobby", "c1", "alice", TestActor, hub, "j1", "e", 5);
        var copy = (JoinRoom)RoundTrip(join);
        Assert.Equal(TestActor, copy.Connection);
        Assert.Equal(hub, copy.Hub);
        Assert.Equal((5L, "e", "j1"), (copy.SinceOffset!.Value, copy.SinceEpoch, copy.RequestId));

        var broadcast = (RoomBroadcast)RoundTrip(new RoomBroadcast("lobby", Frame, null, "e", 3));
        Assert.Equal(Frame, broadcast.Frame);
        Assert.Null(broadcast.ExcludeConnectionId);
        Assert.Equal(("e", 3L), (broadcast.Epoch, broadcast.Offset));

        var rejoin = (RejoinRoom)RoundTrip(new RejoinRoom("lobby", hub, [new RejoiningMember("c1", "alice")], "e", 3, 4));
        Assert.Equal(hub, rejoin.Hub);
        Assert.Equal(new RejoiningMember("c1", "alice"), Assert.Single(rejoin.Members));
        Assert.Equal(("e", 3L, 4L), (rejoin.SinceEpoch, rejoin.SinceOffset, rejoin.Attempt));

        var publish = (PublishToRoom)RoundTrip(new PublishToRoom("lobby", null, "server", Payload, false, null));
        Assert.Equal(Payload, publish.Payload);
        Assert.Null(publish.ConnectionId);
    }

    [Fact]
    public void The_samples_cover_every_cluster_message_type()
    {
        var all = typeof(IClusterMessage).Assembly.GetTypes()
            .Concat(typeof(BrokerClusterSerializer).Assembly.GetTypes())
            .Where(t => t is { IsClass: true, IsAbstract: false }
                        && (typeof(IClusterMessage).IsAssignableFrom(t) || typeof(Broker.Actors.Rooms.IRoomJournalEvent).IsAssignableFrom(t)))
            .ToHashSet();
        Assert.Equal(all.OrderBy(t => t.FullName), Samples().Select(s => s.GetType()).Distinct().OrderBy(t => t.FullName));
        // ...and every row of the serializer's table is one of them, so each row round-trips above.
        Assert.Equal(all.OrderBy(t => t.FullName), BrokerClusterSerializer.MessageTypes.OrderBy(t => t.FullName));
    }

    private object RoundTrip(object message)
    {
        var serializer = (Akka.Serialization.SerializerWithStringManifest)Sys.Serialization.FindSerializerFor(message);
        return serializer.FromBinary(serializer.ToBinary(message), serializer.Manifest(message));
    }
}
