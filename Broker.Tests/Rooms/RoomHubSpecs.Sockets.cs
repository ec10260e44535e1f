using Broker.Actors.Connections;
using Broker.Actors.Rooms;
using Broker.Contracts.Cluster;
using Broker.Contracts.Protocol;
using static Broker.Contracts.Cluster.RoomCommands;
using static Broker.Contracts.Cluster.RoomEvents;

namespace Broker.Tests.Rooms;

public sealed partial class RoomHubSpecs
{
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
