namespace Broker.Tests.Sse;

/// <summary>PROTOCOL §9.4: over SSE the same rooms, ordering and recovery as over WebSocket; only the transport changes.</summary>
public sealed class SseSessionTests(SseHostFixture fixture) : IClassFixture<SseHostFixture>
{
    private BrokerTestHost Host => fixture.Host;

    [Fact]
    public async Task WebSocket_and_sse_members_of_one_room_see_the_same_messages_in_the_same_order()
    {
        const string room = "mixed-order";
        const int each = 20;
        await using var socket = await Host.ConnectAuthenticatedAsync("order-ws");
        await using var stream = await SseClient.ConnectAsync(Host, "order-sse");
        await socket.JoinAsync(room);
        await stream.JoinAsync(room);

        // Both publish at once, interleaved by the room: one order for everybody.
        var publishing = Task.WhenAll(
            Task.Run(async () => { for (var i = 0; i < each; i++) await socket.SendPublishAsync(room, new { from = "ws", i }); }),
            Task.Run(async () =>
            {
                for (var i = 0; i < each; i += 5)
                    await stream.PostAsync(new JsonArray(Enumerable.Range(i, 5).Select(n =>
                        (JsonNode)SseClient.Envelope("publish", $"sse-{n}", new JsonObject { ["room"] = room, ["payload"] = new JsonObject { ["from"] = "sse", ["i"] = n } })).ToArray()));
            }));
        await publishing.OrTimeout();

        var seenBySocket = await socket.MessagesAsync(2 * each);
        var seenByStream = new List<JsonElement>();
        for (var i = 0; i < 2 * each; i++) seenByStream.Add((await stream.ReceiveAsync("message")).Data());

        static string Describe(JsonElement m) => $"{m.Long("offset")}:{m.Str("from")}:{m.GetProperty("payload").GetProperty("i").GetInt32()}";
        Assert.Equal(seenBySocket.Select(Describe), seenByStream.Select(Describe));
        var offsets = seenByStream.Select(m => m.Long("offset")).ToArray();
        for (var i = 1; i < offsets.Length; i++) Assert.Equal(offsets[i - 1] + 1, offsets[i]);
        // Each author's messages in the order it sent them.
        foreach (var author in new[] { "order-ws", "order-sse" })
        {
            var mine = seenByStream.Where(m => m.Str("from") == author).Select(m => m.GetProperty("payload").GetProperty("i").GetInt32()).ToArray();
            Assert.Equal(Enumerable.Range(0, each), mine);
        }
    }

    [Fact]
    public async Task Rejoining_with_since_over_sse_replays_the_missed_messages_before_joined()
    {
        const string room = "sse-recovery";
        await using var publisher = await Host.ConnectAuthenticatedAsync("recovery-publisher");
        await publisher.JoinAsync(room);
        var first = await SseClient.ConnectAsync(Host, "recovery-reader");
        var joined = await first.JoinAsync(room);
        var epoch = joined.Str("epoch");
        var seen = await publisher.PublishAsync(room, new { n = 1 });
        Assert.Equal(seen, (await first.ReceiveAsync("message")).Data().Long("offset"));
        await first.DisposeAsync();

        var missed = new List<long>();
        for (var n = 2; n <= 4; n++) missed.Add(await publisher.PublishAsync(room, new { n }));

        await using var again = await SseClient.ConnectAsync(Host, "recovery-reader");
        var id = again.NextId("join");
        await again.PostAsync(SseClient.Envelope("join", id, new JsonObject
        {
            ["room"] = room,
            ["since"] = new JsonObject { ["epoch"] = epoch, ["offset"] = seen },
        }));
        var replayed = new List<long>();
        while (true)
        {
            var frame = await again.ReceiveAsync();
            if (frame.Type() == "joined" && frame.Id() == id)
            {
                Assert.True(frame.Data().Bool("recovered"), frame.ToString());
                Assert.Equal(epoch, frame.Data().Str("epoch"));
                break;
            }
            if (frame.Type() == "message") replayed.Add(frame.Data().Long("offset"));
        }
        Assert.Equal(missed, replayed);
    }

    [Fact]
    public async Task Rooms_query_joins_each_room_at_start_and_a_refused_one_gets_an_error_event()
    {
        var refused = SseHostFixture.RefusedPrefix + "vault";
        await using var publisher = await Host.ConnectAuthenticatedAsync("rooms-publisher");
        await publisher.JoinAsync("rooms-a");
        await publisher.JoinAsync("rooms-b");

        // A receive-only route, as a plain EventSource would open it: a ticket and the rooms, no POST ever.
        var (ticket, _) = await Integration.TicketTests.IssueTicketAsync(Host, TestTokens.Valid("rooms-reader"));
        await using var reader = await SseClient.OpenAsync(Host, "notifications",
            SseClient.StreamRequest("notifications", query: $"ticket={ticket}&rooms=rooms-a,{refused},rooms-b"), postToken: null);

        var a = await reader.ReceiveAsync("joined", "rooms-a");
        Assert.Equal("rooms-a", a.Data().Str("room"));
        var error = await reader.ReceiveAsync("error", refused);
        Assert.Equal("forbidden", error.ErrorCode());
        var b = await reader.ReceiveAsync("joined", "rooms-b");
        Assert.Equal("rooms-b", b.Data().Str("room"));

        var offsetA = await publisher.PublishAsync("rooms-a", new { text = "to a" });
        var offsetB = await publisher.PublishAsync("rooms-b", new { text = "to b" });
        var first = (await reader.ReceiveAsync("message")).Data();
        var second = (await reader.ReceiveAsync("message")).Data();
        Assert.Equal(("rooms-a", offsetA), (first.Str("room"), first.Long("offset")));
        Assert.Equal(("rooms-b", offsetB), (second.Str("room"), second.Long("offset")));
    }

    [Fact]
    public async Task Message_payload_with_raw_line_breaks_arrives_as_the_same_json()
    {
        await using var publisher = await Host.ConnectAuthenticatedAsync("lines-publisher");
        await using var reader = await SseClient.ConnectAsync(Host, "lines-reader");
        await publisher.JoinAsync("sse-lines");
        await reader.JoinAsync("sse-lines");

        // Whitespace between tokens is the publisher's own, forwarded byte for byte; SSE ends a field at CR or LF.
        await publisher.SendTextAsync("{\"type\":\"publish\",\"id\":\"x\",\"data\":{\"room\":\"sse-lines\",\"payload\":{\r\n\"a\":\r1,\n\"b\":\"two\\nlines\"}}}");

        var message = (await reader.ReceiveAsync("message")).Data();
        Assert.Equal(1, message.GetProperty("payload").GetProperty("a").GetInt32());
        Assert.Equal("two\nlines", message.GetProperty("payload").Str("b"));
    }
}
