using Akka.Cluster.Sharding;
using Broker.Actors.Connections;
using Broker.Actors.Rooms;
using Broker.Contracts.Cluster;
using Broker.Contracts.Protocol;
using static Broker.Contracts.Cluster.RoomCommands;
using static Broker.Contracts.Cluster.RoomEvents;

namespace Broker.Tests.Rooms;

public sealed partial class RoomActorSpecs
{
    [Fact]
    public void An_idle_room_without_members_asks_its_shard_to_passivate_it()
    {
        var shard = CreateTestProbe();

        shard.ChildActorOf(RoomActor.Props(RoomId, new RoomSettings(100, TimeSpan.FromMilliseconds(200))));

        var passivate = shard.ExpectMsg<Passivate>(TimeSpan.FromSeconds(3));
        Assert.Same(PoisonPill.Instance, passivate.StopMessage);
    }

    [Fact]
    public void A_room_with_members_stays_until_the_last_one_leaves()
    {
        var shard = CreateTestProbe();
        var idle = TimeSpan.FromMilliseconds(200);
        var room = shard.ChildActorOf(RoomActor.Props(RoomId, new RoomSettings(100, idle)));
        var hub = CreateTestProbe();
        Join(room, hub, CreateTestProbe(), "c1", "alice");

        shard.ExpectNoMsg(idle * 3);
        room.Tell(new LeaveRoom(RoomId, "c1", null, Reply: true), hub.Ref);

        hub.ExpectMsg<LeaveResult>();
        shard.ExpectMsg<Passivate>(TimeSpan.FromSeconds(3));
    }
}
