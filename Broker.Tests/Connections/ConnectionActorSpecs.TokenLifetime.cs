using Broker.Actors.Auth;
using Broker.Actors.Connections;
using Broker.Contracts.Protocol;
using static Broker.Actors.Connections.ConnectionMessages;
using static Broker.TestKit.ConnectionSpecDefaults;

namespace Broker.Tests.Connections;

public sealed partial class ConnectionActorSpecs
{
    [Fact]
    public async Task Connection_is_closed_with_4401_token_expired_when_its_token_expires()
    {
        _tokens.Accept("short", "alice", Sys.Scheduler.Now + TimeSpan.FromSeconds(60));
        var c = await ConnectAsync(Chat);
        await c.Transport.SendTextAsync("""{"type":"auth","data":{"token":"short"}}""", Timeout);
        await c.Transport.ExpectFrameAsync(FrameTypes.Welcome, Timeout);

        Sys.Advance(TimeSpan.FromSeconds(59));
        await c.Transport.Outbound.ExpectNoMsgAsync(Quiet);

        Sys.Advance(TimeSpan.FromSeconds(2));
        await ExpectClosedAndStoppedAsync(c, Close.TokenExpired);
    }

    [Fact]
    public async Task Ticket_connection_is_closed_when_the_jwt_behind_the_ticket_expires()
    {
        var c = await ConnectAsync(Chat, new AuthenticatedUser("bob", Sys.Scheduler.Now + TimeSpan.FromSeconds(30)));
        await c.Transport.ExpectFrameAsync(FrameTypes.Welcome, Timeout);

        Sys.Advance(TimeSpan.FromSeconds(31));

        await ExpectClosedAndStoppedAsync(c, Close.TokenExpired);
    }

    [Fact]
    public async Task Refresh_for_the_same_user_answers_refreshed_and_moves_the_expiry()
    {
        var now = Sys.Scheduler.Now;
        _tokens.Accept("first", "alice", now + TimeSpan.FromSeconds(60));
        _tokens.Accept("second", "alice", now + TimeSpan.FromSeconds(300));
        var c = await ConnectAsync(Chat);
        await c.Transport.SendTextAsync("""{"type":"auth","data":{"token":"first"}}""", Timeout);
        await c.Transport.ExpectFrameAsync(FrameTypes.Welcome, Timeout);

        await c.Transport.SendTextAsync("""{"type":"auth","id":"r1","data":{"token":"second"}}""", Timeout);
        var refreshed = await c.Transport.ExpectFrameAsync(FrameTypes.Refreshed, Timeout);
        Assert.Equal("r1", Str(refreshed, "id"));
        Assert.Equal((now + TimeSpan.FromSeconds(300)).ToUnixTimeMilliseconds(), Data(refreshed).GetProperty("expiresAt").GetInt64());

        Sys.Advance(TimeSpan.FromSeconds(61));
        await c.Transport.Outbound.ExpectNoMsgAsync(Quiet);
        await ExpectStillServingAsync(c);

        Sys.Advance(TimeSpan.FromSeconds(240));
        await ExpectClosedAndStoppedAsync(c, Close.TokenExpired);
    }

    [Fact]
    public async Task Refresh_for_another_user_gets_error_unauthorized_then_close_4401()
    {
        _tokens.Accept("mallory-token", "mallory", _inAnHour);
        var c = await ConnectAsAliceAsync();

        await c.Transport.SendAsync(Text("""{"type":"auth","id":"r1","data":{"token":"mallory-token"}}"""));

        await ExpectErrorAsync(c.Transport, ErrorCodes.Unauthorized, "r1");
        await ExpectClosedAndStoppedAsync(c, Close.Unauthorized);
    }

    [Fact]
    public async Task Refresh_with_a_bad_token_gets_error_unauthorized_then_close_4401()
    {
        var c = await ConnectAsAliceAsync();

        await c.Transport.SendAsync(Text("""{"type":"auth","id":"r1","data":{"token":"forged"}}"""));

        await ExpectErrorAsync(c.Transport, ErrorCodes.Unauthorized, "r1");
        await ExpectClosedAndStoppedAsync(c, Close.Unauthorized);
    }
}
