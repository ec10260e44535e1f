using Broker.Actors.Auth;
using Broker.Actors.Connections;
using Broker.Contracts.Protocol;
using static Broker.Actors.Connections.ConnectionMessages;
using static Broker.TestKit.ConnectionSpecDefaults;

namespace Broker.Tests.Connections;

public sealed partial class ConnectionActorSpecs
{
    [Fact]
    public async Task Silent_connection_gets_a_ping_on_the_first_tick_and_is_closed_at_the_second()
    {
        var c = await ConnectAsAliceAsync();

        c.Actor.Tell(HeartbeatTick.Instance, c.Parent.Ref);
        await c.Transport.ExpectFrameAsync("ping", Timeout);

        Sys.Advance(Settings.HeartbeatInterval); // the supervisor's ticks are an interval apart
        c.Actor.Tell(HeartbeatTick.Instance, c.Parent.Ref);
        await ExpectClosedAndStoppedAsync(c, Close.HeartbeatTimeout);
    }

    [Fact]
    public async Task Tick_queued_right_behind_the_one_that_pinged_does_not_close_the_connection()
    {
        var c = await ConnectAsAliceAsync();

        // Two ticks with no time between them: the node was stalled and both queued up.
        c.Actor.Tell(HeartbeatTick.Instance, c.Parent.Ref);
        c.Actor.Tell(HeartbeatTick.Instance, c.Parent.Ref);
        await c.Transport.ExpectFrameAsync("ping", Timeout);
        await c.Transport.SendTextAsync("""{"type":"pong"}""", Timeout);

        Sys.Advance(Settings.HeartbeatInterval);
        c.Actor.Tell(HeartbeatTick.Instance, c.Parent.Ref);
        await c.Transport.ExpectFrameAsync("ping", Timeout);
        Assert.Null(c.Transport.ClosedWith);
    }

    [Theory]
    [InlineData("""{"type":"pong"}""")]
    [InlineData("""{"type":"ping"}""")]
    [InlineData("""{"type":"nonsense"}""")]
    public async Task Connection_that_sends_any_frame_between_ticks_is_not_closed(string frame)
    {
        var c = await ConnectAsAliceAsync();

        for (var tick = 0; tick < 3; tick++)
        {
            c.Actor.Tell(HeartbeatTick.Instance, c.Parent.Ref);
            await c.Transport.ExpectFrameAsync("ping", Timeout);
            await c.Transport.SendTextAsync(frame, Timeout);
            if (frame != """{"type":"pong"}""") await c.Transport.ExpectFrameAsync(Timeout); // its reply
        }

        await c.Transport.Outbound.ExpectNoMsgAsync(Quiet);
        Assert.Null(c.Transport.ClosedWith);
    }
}
