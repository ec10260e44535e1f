using Broker.Actors.Auth;
using Broker.Actors.Connections;
using Broker.Contracts.Protocol;
using static Broker.Actors.Connections.ConnectionMessages;
using static Broker.TestKit.ConnectionSpecDefaults;

namespace Broker.Tests.Connections;

public sealed partial class ConnectionActorSpecs
{
    [Theory]
    [InlineData("""{"type":"publish","id":"pub1","data":{"room":"general","payload":1}}""", "pub1")]
    [InlineData("""{"type":"publish","id":"pub2","data":{"payload":1}}""", "pub2")]
    [InlineData("""{"type":"send","id":"snd1","data":{"user":"bob","payload":1}}""", "snd1")]
    public async Task Receive_only_route_answers_publish_and_send_with_error_forbidden(string frame, string id)
    {
        var c = await ConnectAsync(Notifications);
        await c.Transport.SendTextAsync("""{"type":"auth","data":{"token":"alice-token"}}""", Timeout);
        await c.Transport.ExpectFrameAsync(FrameTypes.Welcome, Timeout);

        await c.Transport.SendTextAsync(frame, Timeout);

        await ExpectErrorAsync(c.Transport, ErrorCodes.Forbidden, id);
        await ExpectStillServingAsync(c);
        await c.Parent.FishForMessageAsync(m => m is ConnectionMessages.Authenticated, Timeout);
        await c.Parent.ExpectNoMsgAsync(Quiet); // nothing was broadcast
    }

    [Fact]
    public async Task Publish_without_a_room_on_a_route_that_did_not_opt_in_to_broadcast_is_forbidden_and_goes_nowhere()
    {
        var c = await ConnectAsync(Lobby);
        await c.Transport.ExpectFrameAsync(FrameTypes.Welcome, Timeout);
        await c.Parent.FishForMessageAsync(m => m is ConnectionMessages.Authenticated, Timeout);

        await c.Transport.SendTextAsync("""{"type":"publish","id":"b0","data":{"payload":"spam"}}""", Timeout);

        await ExpectErrorAsync(c.Transport, ErrorCodes.Forbidden, "b0");
        await ExpectStillServingAsync(c);
        await c.Parent.ExpectNoMsgAsync(Quiet); // no RouteBroadcast reached the supervisor
    }

    [Fact]
    public async Task Publish_without_a_room_goes_to_the_supervisor_as_a_route_broadcast_and_its_ack_echoes_the_id()
    {
        var c = await ConnectAsAliceAsync();
        await c.Parent.ExpectMsgAsync<ConnectionMessages.Authenticated>(Timeout);

        await c.Transport.SendTextAsync("""{"type":"publish","id":"b1","data":{"payload":{"n":1},"excludeSelf":true}}""", Timeout);

        var broadcast = await c.Parent.ExpectMsgAsync<RouteBroadcast>(Timeout);
        Assert.Equal(("chat", "alice", true, "b1"), (broadcast.Route, broadcast.From, broadcast.ExcludeSender, broadcast.Id));
        Assert.Equal("""{"n":1}""", broadcast.Payload.GetRawText());

        c.Actor.Tell(new RouteBroadcastAccepted("b1", 7), c.Parent.Ref);
        var ack = await c.Transport.ExpectFrameAsync(FrameTypes.Ack, Timeout);
        Assert.Equal("b1", Str(ack, "id"));
        Assert.Equal(7, Data(ack).GetProperty("offset").GetInt64());
    }
}
