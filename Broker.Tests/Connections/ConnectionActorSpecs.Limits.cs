using System.Text;
using Broker.Actors.Auth;
using Broker.Actors.Connections;
using Broker.Contracts.Protocol;
using static Broker.Actors.Connections.ConnectionMessages;
using static Broker.Contracts.Cluster.ConnectionCommands;
using static Broker.TestKit.ConnectionSpecDefaults;

namespace Broker.Tests.Connections;

public sealed partial class ConnectionActorSpecs
{
    [Fact]
    public async Task Rate_limited_frame_gets_error_rate_limited_with_its_id_and_the_connection_stays()
    {
        var c = await ConnectAsAliceAsync();

        await c.Transport.SendAsync(new InboundFrame(InboundKind.RateLimited, Encoding.UTF8.GetBytes("""{"type":"ping","id":"p9"}""")));
        await c.Transport.Stream.ExpectMsgAsync<InboundStream.Ack>(Timeout);

        await ExpectErrorAsync(c.Transport, ErrorCodes.RateLimited, "p9");
        await ExpectStillServingAsync(c);
    }

    [Fact]
    public async Task Flooding_closes_with_1008()
    {
        var c = await ConnectAsAliceAsync();

        await c.Transport.SendAsync(InboundFrame.Flooding);

        await ExpectClosedAndStoppedAsync(c, Close.RateLimit);
    }

    [Fact]
    public async Task Message_over_the_size_limit_closes_with_1009()
    {
        var c = await ConnectAsAliceAsync();

        await c.Transport.SendAsync(InboundFrame.TooBig);

        await ExpectClosedAndStoppedAsync(c, Close.TooBig);
    }

    [Fact]
    public async Task Message_over_the_size_limit_closes_with_1009_even_before_auth()
    {
        var c = await ConnectAsync(Chat);

        await c.Transport.SendAsync(InboundFrame.TooBig);

        await ExpectClosedAndStoppedAsync(c, Close.TooBig);
    }

    [Fact]
    public async Task Invalid_utf8_closes_with_1007()
    {
        var c = await ConnectAsAliceAsync();

        await c.Transport.SendAsync(InboundFrame.InvalidUtf8);

        await ExpectClosedAndStoppedAsync(c, Close.InvalidUtf8);
    }

    [Fact]
    public async Task Delivery_to_a_full_transport_closes_4508_slow_consumer_discarding_the_backlog_and_stops()
    {
        var c = await ConnectAsAliceAsync(capacity: 2); // welcome takes one slot
        c.Actor.Tell(new Deliver(ServerFrames.Ping), c.Parent.Ref);
        await c.Transport.ExpectFrameAsync("ping", Timeout);

        c.Actor.Tell(new Deliver(ServerFrames.Ping), c.Parent.Ref);

        await ExpectClosedAndStoppedAsync(c, Close.SlowConsumer, discardQueued: true);
    }

    [Fact]
    public async Task A_frame_the_room_hub_could_not_queue_closes_4508_slow_consumer_and_stops()
    {
        var c = await ConnectAsAliceAsync();

        c.Actor.Tell(OutboundRefused.Instance); // the hub writes room frames to the socket itself

        await ExpectClosedAndStoppedAsync(c, Close.SlowConsumer, discardQueued: true);
    }

    [Fact]
    public async Task Delivery_after_the_transport_drained_is_sent()
    {
        var c = await ConnectAsAliceAsync(capacity: 1);
        c.Transport.Drain();

        c.Actor.Tell(new Deliver(ServerFrames.Ping), c.Parent.Ref);

        await c.Transport.ExpectFrameAsync("ping", Timeout);
        Assert.Null(c.Transport.ClosedWith);
    }

    [Fact]
    public async Task Client_closing_its_socket_stops_the_actor_with_a_normal_close()
    {
        var c = await ConnectAsAliceAsync();

        c.Actor.Tell(InboundStream.Completed.Instance, c.Transport.Stream.Ref);

        await ExpectClosedAndStoppedAsync(c, Close.Normal);
    }

    [Fact]
    public async Task CloseConnection_closes_with_the_given_code_and_reason()
    {
        var c = await ConnectAsAliceAsync();

        c.Actor.Tell(new CloseConnection(Close.ShuttingDown.Code, Close.ShuttingDown.Reason), c.Parent.Ref);

        await ExpectClosedAndStoppedAsync(c, Close.ShuttingDown);
    }
}
