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
    public async Task Anonymous_route_connection_gets_welcome_first()
    {
        var c = await ConnectAsync(Lobby, id: "c42");

        var welcome = await c.Transport.ExpectFrameAsync(Timeout);
        Assert.Equal(FrameTypes.Welcome, Str(welcome, "type"));
        var data = Data(welcome);
        Assert.Equal("c42", Str(data, "connection"));
        Assert.Equal("anon-c42", Str(data, "user"));
        Assert.Equal("node-a", Str(data, "node"));
        Assert.Equal(1000, data.GetProperty("heartbeat").GetProperty("interval").GetInt64());
        Assert.Equal(500, data.GetProperty("heartbeat").GetProperty("timeout").GetInt64());
        await c.Parent.ExpectMsgAsync(new ConnectionMessages.Authenticated("anon-c42"), Timeout);
    }

    [Fact]
    public async Task Anonymous_welcome_says_the_credential_never_expires_with_a_null_expiresAt()
    {
        var c = await ConnectAsync(Lobby);

        var welcome = await c.Transport.ExpectFrameAsync(FrameTypes.Welcome, Timeout);
        // PROTOCOL §3: "expiresAt":<unix ms or null>; the field is part of the shape.
        Assert.True(Data(welcome).TryGetProperty("expiresAt", out var expiresAt), welcome.ToString());
        Assert.Equal(JsonValueKind.Null, expiresAt.ValueKind);
    }

    [Fact]
    public async Task Ticket_authenticated_connection_gets_welcome_without_an_auth_frame()
    {
        var c = await ConnectAsync(Chat, new AuthenticatedUser("bob", _inAnHour));

        var welcome = await c.Transport.ExpectFrameAsync(FrameTypes.Welcome, Timeout);
        Assert.Equal("bob", Str(Data(welcome), "user"));
        Assert.Equal(_inAnHour.ToUnixTimeMilliseconds(), Data(welcome).GetProperty("expiresAt").GetInt64());
    }

    [Fact]
    public async Task First_message_auth_with_a_valid_token_gets_welcome_with_the_user()
    {
        var c = await ConnectAsync(Chat);

        await c.Transport.SendTextAsync("""{"type":"auth","id":"a1","data":{"token":"alice-token"}}""", Timeout);

        var welcome = await c.Transport.ExpectFrameAsync(FrameTypes.Welcome, Timeout);
        Assert.Equal("alice", Str(Data(welcome), "user"));
        Assert.Equal("c1", Str(Data(welcome), "connection"));
        Assert.Equal(_inAnHour.ToUnixTimeMilliseconds(), Data(welcome).GetProperty("expiresAt").GetInt64());
        await c.Parent.ExpectMsgAsync(new ConnectionMessages.Authenticated("alice"), Timeout);
        await ExpectStillServingAsync(c);
    }

    [Fact]
    public async Task Bad_token_gets_error_unauthorized_then_close_4401()
    {
        var c = await ConnectAsync(Chat);

        await c.Transport.SendAsync(Text("""{"type":"auth","id":"a1","data":{"token":"forged"}}"""));

        await ExpectErrorAsync(c.Transport, ErrorCodes.Unauthorized, "a1");
        await ExpectClosedAndStoppedAsync(c, Close.Unauthorized);
    }

    [Theory]
    [InlineData("""{"type":"ping","id":"p1"}""", "p1")]
    [InlineData("""{"type":"join","id":"j1","data":{"room":"general"}}""", "j1")]
    [InlineData("""{"type":"auth","id":"a1"}""", "a1")]
    [InlineData("""not json""", null)]
    public async Task Any_first_frame_other_than_auth_gets_error_unauthorized_then_close_4401(string frame, string? id)
    {
        var c = await ConnectAsync(Chat);

        await c.Transport.SendAsync(Text(frame));

        await ExpectErrorAsync(c.Transport, ErrorCodes.Unauthorized, id);
        await ExpectClosedAndStoppedAsync(c, Close.Unauthorized);
    }

    [Fact]
    public async Task Binary_first_frame_gets_error_unauthorized_then_close_4401()
    {
        var c = await ConnectAsync(Chat);

        await c.Transport.SendAsync(InboundFrame.Binary);

        await ExpectErrorAsync(c.Transport, ErrorCodes.Unauthorized, null);
        await ExpectClosedAndStoppedAsync(c, Close.Unauthorized);
    }

    [Fact]
    public async Task Auth_deadline_closes_an_unauthenticated_connection_with_4401_auth_timeout()
    {
        var c = await ConnectAsync(Chat);

        c.Actor.Tell(AuthDeadlineReached.Instance, c.Parent.Ref);

        await ExpectClosedAndStoppedAsync(c, Close.AuthTimeout);
    }

    [Fact]
    public async Task Auth_deadline_is_ignored_once_authenticated()
    {
        var c = await ConnectAsAliceAsync();

        c.Actor.Tell(AuthDeadlineReached.Instance, c.Parent.Ref);

        await ExpectStillServingAsync(c);
    }

    [Fact]
    public async Task Unauthenticated_connection_receives_no_deliveries()
    {
        var c = await ConnectAsync(Chat);

        c.Actor.Tell(new Deliver(ServerFrames.Ping), c.Parent.Ref);
        c.Actor.Tell(new Deliver(Encoding.UTF8.GetBytes("""{"type":"message","data":{"room":null,"offset":1,"epoch":null,"from":"x","payload":1}}""")), c.Parent.Ref);
        await c.Transport.SendTextAsync("""{"type":"auth","data":{"token":"alice-token"}}""", Timeout);

        // welcome must be the first frame the client sees (PROTOCOL §3).
        var first = await c.Transport.ExpectFrameAsync(Timeout);
        Assert.Equal(FrameTypes.Welcome, Str(first, "type"));
    }
}
