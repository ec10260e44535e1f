using System.Text;
using Broker.Client;
using Broker.Client.Protocol;
using Broker.Tests.Integration;

namespace Broker.Tests.Client;

/// <summary>The .NET client against the real broker: auth, requests and replies, delivery, errors.</summary>
public sealed class BrokerClientIntegrationTests(SharedHostFixture fixture) : IClassFixture<SharedHostFixture>
{
    private static readonly TimeSpan Timeout = ClientEvents.Timeout;

    private BrokerTestHost Host => fixture.Host;

    private BrokerClient NewClient(string user, BrokerAuthentication authentication = BrokerAuthentication.FirstMessage, Func<CancellationToken, ValueTask<string>>? tokens = null) =>
        new(new BrokerClientOptions
        {
            Url = Host.WebSocketUri("chat"),
            TokenProvider = tokens ?? (_ => ValueTask.FromResult(TestTokens.Valid(user))),
            Authentication = authentication,
            RequestTimeout = Timeout,
        });

    private static ReadOnlyMemory<byte> Json(string json) => Encoding.UTF8.GetBytes(json);

    [Fact]
    public async Task Connects_with_a_jwt_in_the_first_message()
    {
        await using var client = NewClient("first-message-user");

        var welcome = await client.ConnectAsync().WaitAsync(Timeout);

        Assert.Equal("first-message-user", welcome.User);
        Assert.False(string.IsNullOrEmpty(welcome.Connection));
        Assert.NotNull(welcome.ExpiresAt);
        Assert.True(welcome.HeartbeatInterval > TimeSpan.Zero);
        Assert.Equal(BrokerClientState.Connected, client.State);
        await client.PingAsync().WaitAsync(Timeout);
    }

    [Fact]
    public async Task Connects_with_a_ticket()
    {
        await using var client = NewClient("ticket-client", BrokerAuthentication.Ticket);

        var welcome = await client.ConnectAsync().WaitAsync(Timeout);

        Assert.Equal("ticket-client", welcome.User);
        await client.PingAsync().WaitAsync(Timeout);
    }

    [Fact]
    public async Task Join_and_publish_are_acknowledged_and_the_message_reaches_every_member()
    {
        await using var alice = NewClient("pub-alice");
        await using var bob = NewClient("pub-bob");
        var bobEvents = new ClientEvents(bob);
        var aliceEvents = new ClientEvents(alice);
        await alice.ConnectAsync().WaitAsync(Timeout);
        await bob.ConnectAsync().WaitAsync(Timeout);

        var joined = await alice.JoinAsync("client-pub").WaitAsync(Timeout);
        await bob.JoinAsync("client-pub").WaitAsync(Timeout);
        var offset = await alice.PublishAsync("client-pub", Json("""{"text":"hi"}""")).WaitAsync(Timeout);

        Assert.Equal("client-pub", joined.Room);
        Assert.Equal(joined.Offset + 1, offset);
        var presence = await aliceEvents.PresenceAsync();
        Assert.Equal(new PresenceChange("client-pub", true, "pub-bob"), presence);
        var message = await bobEvents.MessageAsync();
        Assert.Equal("client-pub", message.Room);
        Assert.Equal(offset, message.Offset);
        Assert.Equal(joined.Epoch, message.Epoch);
        Assert.Equal("pub-alice", message.From);
        Assert.Equal("hi", message.ParsePayload().GetProperty("text").GetString());
        Assert.Equal(offset, (await aliceEvents.MessageAsync()).Offset); // the publisher is a member too
    }

    [Fact]
    public async Task Publish_with_exclude_self_skips_the_publisher_and_typed_payloads_round_trip()
    {
        await using var alice = NewClient("typed-alice");
        await using var bob = NewClient("typed-bob");
        var aliceEvents = new ClientEvents(alice);
        var bobEvents = new ClientEvents(bob);
        await alice.ConnectAsync().WaitAsync(Timeout);
        await bob.ConnectAsync().WaitAsync(Timeout);
        await alice.JoinAsync("client-typed").WaitAsync(Timeout);
        await bob.JoinAsync("client-typed").WaitAsync(Timeout);

        var first = await alice.PublishAsync("client-typed", new ChatLine("one", 1), ClientTestJson.Default.ChatLine, excludeSelf: true).WaitAsync(Timeout);
        using var doc = JsonDocument.Parse("""{"text":"two","n":2}""");
        var second = await alice.PublishAsync("client-typed", doc.RootElement).WaitAsync(Timeout);

        Assert.Equal(new ChatLine("one", 1), (await bobEvents.MessageAsync()).Deserialize(ClientTestJson.Default.ChatLine));
        Assert.Equal(new ChatLine("two", 2), (await bobEvents.MessageAsync()).Deserialize(ClientTestJson.Default.ChatLine));
        Assert.Equal(second, (await aliceEvents.MessageAsync()).Offset); // only the second one came back
        Assert.Equal(first + 1, second);
    }

    [Fact]
    public async Task Send_reaches_every_connection_of_the_user()
    {
        await using var sender = NewClient("direct-sender");
        await using var receiver = NewClient("direct-receiver");
        var events = new ClientEvents(receiver);
        await sender.ConnectAsync().WaitAsync(Timeout);
        await receiver.ConnectAsync().WaitAsync(Timeout);

        var delivered = await sender.SendAsync("direct-receiver", Json("""{"text":"psst"}""")).WaitAsync(Timeout);
        var offline = await sender.SendAsync("nobody-online", Json("1")).WaitAsync(Timeout);

        Assert.Equal(1, delivered);
        Assert.Equal(0, offline);
        var direct = await events.DirectAsync();
        Assert.Equal("direct-sender", direct.From);
        Assert.Equal("""{"text":"psst"}""", Encoding.UTF8.GetString(direct.Payload.Span));
    }

    [Fact]
    public async Task Publish_to_a_room_not_joined_fails_with_forbidden()
    {
        await using var client = NewClient("not-a-member");
        await client.ConnectAsync().WaitAsync(Timeout);

        var error = await Assert.ThrowsAsync<BrokerException>(() => client.PublishAsync("client-elsewhere", Json("1")).WaitAsync(Timeout));

        Assert.Equal(ErrorCodes.Forbidden, error.Code);
        await client.PingAsync().WaitAsync(Timeout); // the connection stays usable
    }

    [Fact]
    public async Task Invalid_room_names_are_refused_before_anything_is_sent()
    {
        await using var client = NewClient("validator");
        await client.ConnectAsync().WaitAsync(Timeout);

        await Assert.ThrowsAsync<ArgumentException>(() => client.JoinAsync("no spaces allowed").WaitAsync(Timeout));
        await Assert.ThrowsAsync<ArgumentException>(() => client.PublishAsync(new string('r', 129), Json("1")).WaitAsync(Timeout));
        Assert.True(BrokerClient.IsValidRoom("a-b_c.d:e"));
    }

    [Fact]
    public async Task A_bad_token_closes_the_client_after_one_retry_with_a_new_token()
    {
        var calls = 0;
        await using var client = NewClient("bad-token", tokens: _ =>
        {
            Interlocked.Increment(ref calls);
            return ValueTask.FromResult(TestTokens.Create("bad-token", credentials: TestTokens.Hs256("a-wrong-secret-that-is-long-enough-to-sign-with")));
        });
        var events = new ClientEvents(client);

        var error = await Assert.ThrowsAsync<BrokerException>(() => client.ConnectAsync().WaitAsync(Timeout));

        Assert.Equal(ErrorCodes.Unauthorized, error.Code);
        Assert.Equal(CloseCodes.Unauthorized, error.CloseCode);
        Assert.Equal(2, calls);
        Assert.Equal(BrokerClientState.Closed, client.State);
        var closed = await events.ClosedAsync();
        Assert.False(closed.WillReconnect);
        Assert.Equal(CloseCodes.Unauthorized, closed.Code);
        await Assert.ThrowsAsync<BrokerException>(() => client.PingAsync().WaitAsync(Timeout));
    }

    [Fact]
    public async Task A_refused_ticket_request_closes_the_client_without_a_reconnect_loop()
    {
        var calls = 0;
        await using var client = NewClient("bad-ticket", BrokerAuthentication.Ticket, _ =>
        {
            Interlocked.Increment(ref calls);
            return ValueTask.FromResult("not-a-jwt");
        });

        var error = await Assert.ThrowsAsync<BrokerException>(() => client.ConnectAsync().WaitAsync(Timeout));

        Assert.Equal(ErrorCodes.Unauthorized, error.Code);
        Assert.Equal(2, calls);
        Assert.Equal(BrokerClientState.Closed, client.State);
    }

    [Fact]
    public async Task A_throwing_handler_is_reported_and_the_client_keeps_receiving()
    {
        await using var client = NewClient("clumsy");
        var events = new ClientEvents(client);
        var seen = 0;
        client.MessageReceived += _ =>
        {
            if (Interlocked.Increment(ref seen) == 1) throw new InvalidOperationException("boom");
        };
        await client.ConnectAsync().WaitAsync(Timeout);
        await client.JoinAsync("client-clumsy").WaitAsync(Timeout);

        await client.PublishAsync("client-clumsy", Json("1")).WaitAsync(Timeout);
        await client.PublishAsync("client-clumsy", Json("2")).WaitAsync(Timeout);

        var error = await events.ErrorAsync();
        Assert.IsType<BrokerHandlerException>(error);
        Assert.Equal("1", Encoding.UTF8.GetString((await events.MessageAsync()).Payload.Span));
        Assert.Equal("2", Encoding.UTF8.GetString((await events.MessageAsync()).Payload.Span));
    }

    [Fact]
    public async Task Leave_stops_delivery_and_close_is_final()
    {
        await using var client = NewClient("leaver");
        var events = new ClientEvents(client);
        await client.ConnectAsync().WaitAsync(Timeout);
        await client.JoinAsync("client-leave").WaitAsync(Timeout);
        Assert.Equal(["client-leave"], client.Rooms);

        await client.LeaveAsync("client-leave").WaitAsync(Timeout);
        var error = await Assert.ThrowsAsync<BrokerException>(() => client.PublishAsync("client-leave", Json("1")).WaitAsync(Timeout));
        await client.CloseAsync().WaitAsync(Timeout);

        Assert.Equal(ErrorCodes.Forbidden, error.Code);
        Assert.Empty(client.Rooms);
        Assert.Equal(BrokerClientState.Closed, client.State);
        var closed = await events.ClosedAsync();
        Assert.Equal(CloseCodes.Normal, closed.Code);
        Assert.False(closed.WillReconnect);
        var afterClose = await Assert.ThrowsAsync<BrokerException>(() => client.PingAsync().WaitAsync(Timeout));
        Assert.Equal(BrokerException.Closed, afterClose.Code);
    }

    [Fact]
    public async Task Messages_can_be_read_from_a_channel()
    {
        await using var client = new BrokerClient(new BrokerClientOptions
        {
            Url = Host.WebSocketUri("chat"),
            TokenProvider = _ => ValueTask.FromResult(TestTokens.Valid("channel-reader")),
            MessageChannelCapacity = 16,
        });
        await client.ConnectAsync().WaitAsync(Timeout);
        await client.JoinAsync("client-channel").WaitAsync(Timeout);

        var offset = await client.PublishAsync("client-channel", Json("""{"n":1}""")).WaitAsync(Timeout);

        var message = await client.Messages.ReadAsync().AsTask().WaitAsync(Timeout);
        Assert.Equal(offset, message.Offset);
    }

    [Fact]
    public async Task Connects_to_an_anonymous_route_without_a_token()
    {
        await using var client = new BrokerClient(new BrokerClientOptions { Url = Host.WebSocketUri(SharedHostFixture.AnonymousRoute) });

        var welcome = await client.ConnectAsync().WaitAsync(Timeout);

        Assert.StartsWith("anon-", welcome.User);
        Assert.Null(welcome.ExpiresAt);
        await client.PingAsync().WaitAsync(Timeout);
    }

    [Fact]
    public async Task Works_over_permessage_deflate_when_offered()
    {
        var configured = false;
        await using var client = new BrokerClient(new BrokerClientOptions
        {
            Url = Host.WebSocketUri(SharedHostFixture.CompressedRoute),
            TokenProvider = _ => ValueTask.FromResult(TestTokens.Valid("deflater")),
            ConfigureWebSocket = o =>
            {
                o.DangerousDeflateOptions = new System.Net.WebSockets.WebSocketDeflateOptions();
                configured = true;
            },
        });
        var events = new ClientEvents(client);
        await client.ConnectAsync().WaitAsync(Timeout);
        await client.JoinAsync("client-deflate").WaitAsync(Timeout);

        var payload = "{\"text\":\"" + new string('z', 10_000) + "\"}";
        await client.PublishAsync("client-deflate", Json(payload)).WaitAsync(Timeout);

        Assert.True(configured);
        Assert.Equal(payload, Encoding.UTF8.GetString((await events.MessageAsync()).Payload.Span));
    }

    [Fact]
    public async Task Concurrent_publishes_from_many_tasks_are_all_acknowledged_and_delivered_in_offset_order()
    {
        const int count = 150; // under the broker's per-connection burst (200)
        await using var publisher = NewClient("pipeliner");
        await using var reader = NewClient("pipeline-reader");
        var events = new ClientEvents(reader);
        await publisher.ConnectAsync().WaitAsync(Timeout);
        await reader.ConnectAsync().WaitAsync(Timeout);
        var joined = await publisher.JoinAsync("client-pipeline").WaitAsync(Timeout);
        await reader.JoinAsync("client-pipeline").WaitAsync(Timeout);

        var offsets = await Task.WhenAll(Enumerable.Range(0, count)
            .Select(i => Task.Run(() => publisher.PublishAsync("client-pipeline", Json(i.ToString()))))).WaitAsync(Timeout);

        Assert.Equal(Enumerable.Range(1, count).Select(i => joined.Offset + i), offsets.Order());
        for (var i = 1; i <= count; i++) Assert.Equal(joined.Offset + i, (await events.MessageAsync()).Offset);
    }
}
