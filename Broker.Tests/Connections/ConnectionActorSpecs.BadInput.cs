using Broker.Actors.Auth;
using Broker.Actors.Connections;
using Broker.Contracts.Protocol;
using static Broker.Actors.Connections.ConnectionMessages;
using static Broker.TestKit.ConnectionSpecDefaults;

namespace Broker.Tests.Connections;

public sealed partial class ConnectionActorSpecs
{
    [Theory]
    [InlineData("""{"type":"publish","id":"x1","data":{"room":5}}""", "x1")]
    [InlineData("""{"type":"launch","id":"x2"}""", "x2")]
    [InlineData("""{"id":"x3"}""", "x3")]
    [InlineData("""{"type":"join","id":"x4","data":{"room":"has space"}}""", "x4")]
    [InlineData("""{"type":"join","id":"x5","data":"general"}""", "x5")]
    [InlineData("""{"type":"send","id":"x6","data":{"user":"bob"}}""", "x6")]
    [InlineData("""{"type":"ping","id":7}""", null)]
    [InlineData("""{"type":""", null)]
    [InlineData("""[1,2,3]""", null)]
    public async Task Bad_frame_after_auth_gets_bad_request_with_its_id_and_the_connection_stays(string frame, string? id)
    {
        var c = await ConnectAsAliceAsync();

        await c.Transport.SendTextAsync(frame, Timeout);

        await ExpectErrorAsync(c.Transport, ErrorCodes.BadRequest, id);
        Assert.Null(c.Transport.ClosedWith);
        await ExpectStillServingAsync(c);
    }

    [Fact]
    public async Task Binary_frame_after_auth_gets_bad_request_and_the_connection_stays()
    {
        var c = await ConnectAsAliceAsync();

        await c.Transport.SendAsync(InboundFrame.Binary);
        await c.Transport.Stream.ExpectMsgAsync<InboundStream.Ack>(Timeout);

        await ExpectErrorAsync(c.Transport, ErrorCodes.BadRequest, null);
        await ExpectStillServingAsync(c);
    }

    [Fact]
    public async Task Ping_is_answered_with_pong_echoing_the_id()
    {
        var c = await ConnectAsAliceAsync();

        await c.Transport.SendTextAsync("""{"type":"ping","id":"p-1"}""", Timeout);

        var pong = await c.Transport.ExpectFrameAsync("pong", Timeout);
        Assert.Equal("p-1", Str(pong, "id"));
    }
}
