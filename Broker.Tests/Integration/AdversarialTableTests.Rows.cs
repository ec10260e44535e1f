using System.Net.Http.Json;

namespace Broker.Tests.Integration;

public sealed partial class AdversarialTableTests
{
    private static readonly Row[] Rows =
    [
        // ---- raw frames (RFC 6455 §5): the WebSocket layer refuses them; the broker closes cleanly ----
        new("frames", "unmasked client frame", new(Close: 1002), c => c.FrameAsync(RawFrame.Text, Utf8("""{"type":"ping"}"""), masked: false)),
        new("frames", "RSV1 set without compression negotiated", new(Close: 1002), c => c.FrameAsync(RawFrame.Text, Utf8("""{"type":"ping"}"""), rsv: 0b100)),
        new("frames", "RSV2 set", new(Close: 1002), c => c.FrameAsync(RawFrame.Text, Utf8("""{"type":"ping"}"""), rsv: 0b010)),
        new("frames", "RSV3 set", new(Close: 1002), c => c.FrameAsync(RawFrame.Text, Utf8("""{"type":"ping"}"""), rsv: 0b001)),
        new("frames", "reserved data opcode 0x3", new(Close: 1002), c => c.FrameAsync(0x3, Utf8("x"))),
        new("frames", "reserved control opcode 0xB", new(Close: 1002), c => c.FrameAsync(0xB, Utf8("x"))),
        new("frames", "ping with a 126-byte payload", new(Close: 1002), c => c.FrameAsync(RawFrame.Ping, new byte[126])),
        new("frames", "fragmented ping", new(Close: 1002), c => c.FrameAsync(RawFrame.Ping, Utf8("p"), fin: false)),
        new("frames", "continuation with no message started", new(Close: 1002), c => c.FrameAsync(RawFrame.Continuation, Utf8("{}"))),
        new("frames", "a new text frame inside a fragmented message", new(Close: 1002), async c =>
        {
            await c.FrameAsync(RawFrame.Text, Utf8("""{"type":"pi"""), fin: false);
            await c.FrameAsync(RawFrame.Text, Utf8("""ng"}"""));
        }),
        new("frames", "a 64-bit length with the top bit set", new(Close: 1002), c => c.FrameAsync(RawFrame.Text, Utf8("{}"), declaredLength: 0x8000_0000_0000_0010)),
        new("frames", "invalid UTF-8 in a text frame", new(Close: 1007), c => c.FrameAsync(RawFrame.Text, [(byte)'"', 0xC3, 0x28, (byte)'"'])),
        new("frames", "an overlong UTF-8 encoding", new(Close: 1007), c => c.FrameAsync(RawFrame.Text, [(byte)'"', 0xC0, 0xAF, (byte)'"'])),
        new("frames", "a UTF-8 encoded surrogate", new(Close: 1007), c => c.FrameAsync(RawFrame.Text, [(byte)'"', 0xED, 0xA0, 0x80, (byte)'"'])),
        new("frames", "invalid UTF-8 split across fragments", new(Close: 1007), async c =>
        {
            await c.FrameAsync(RawFrame.Text, [(byte)'"', 0xE2, 0x82], fin: false);
            await c.FrameAsync(RawFrame.Continuation, [0x28, (byte)'"']);
        }),
        new("frames", "a message over MaxMessageBytes", new(Close: 1009), c => c.FrameAsync(RawFrame.Text, Utf8(new string('x', 64 * 1024 + 1)))),
        new("frames", "fragments that add up past MaxMessageBytes", new(Close: 1009), async c =>
        {
            for (var i = 0; i < 5; i++) await c.FrameAsync(i == 0 ? RawFrame.Text : RawFrame.Continuation, Utf8(new string('y', 16 * 1024)), fin: false);
        }),
        new("frames", "a binary frame", new(Error: "bad_request"), c => c.FrameAsync(RawFrame.Binary, [1, 2, 3])),
        new("frames", "an empty text frame", new(Error: "bad_request"), c => c.FrameAsync(RawFrame.Text, [])),
        new("frames", "a valid envelope in three fragments", new(Served: true), async c =>
        {
            await c.FrameAsync(RawFrame.Text, Utf8("""{"type":"""), fin: false);
            await c.FrameAsync(RawFrame.Continuation, Utf8("""  "ping","i"""), fin: false);
            await c.FrameAsync(RawFrame.Continuation, Utf8("""d":"served"}"""));
        }),
        new("frames", "a ping between fragments of a message", new(Served: true), async c =>
        {
            await c.FrameAsync(RawFrame.Text, Utf8("""{"type":"ping","""), fin: false);
            await c.FrameAsync(RawFrame.Ping, Utf8("between"));
            await c.FrameAsync(RawFrame.Continuation, Utf8(""" "id":"served"}"""));
        }),

        // ---- envelopes (PROTOCOL §3): error bad_request, the connection stays open ----
        new("envelopes", "not JSON", new(Error: "bad_request"), c => c.SendAsync("hello")),
        new("envelopes", "a JSON array", new(Error: "bad_request"), c => c.SendAsync("""[{"type":"ping"}]""")),
        new("envelopes", "nested 10,000 deep", new(Error: "bad_request"), c => c.SendAsync("""{"type":"publish","data":{"room":"r","payload":""" + new string('[', 10_000) + new string(']', 10_000) + "}}")),
        new("envelopes", "a duplicate type key", new(Error: "bad_request"), c => c.SendAsync("""{"type":"ping","type":"leave","id":"dup"}""")),
        new("envelopes", "a duplicate room key", new(Error: "bad_request"), c => c.SendAsync("""{"type":"join","id":"dup","data":{"room":"a","room":"b"}}""")),
        new("envelopes", "missing type", new(Error: "bad_request"), c => c.SendAsync("""{"id":"x"}""")),
        new("envelopes", "unknown type", new(Error: "bad_request"), c => c.SendAsync("""{"type":"teleport","id":"x"}""")),
        new("envelopes", "a server frame type sent by a client", new(Error: "bad_request"), c => c.SendAsync("""{"type":"message","data":{"room":"r","offset":1}}""")),
        new("envelopes", "an id of 65 characters", new(Error: "bad_request"), c => c.SendAsync($$$"""{"type":"ping","id":"{{{new string('i', 65)}}}"}""")),
        new("envelopes", "an id that is a number", new(Error: "bad_request"), c => c.SendAsync("""{"type":"ping","id":7}""")),
        new("envelopes", "an id escaping a lone surrogate", new(Error: "bad_request"), c => c.SendAsync("""{"type":"ping","id":"\ud800"}""")),
        new("envelopes", "a type escaping a lone surrogate", new(Error: "bad_request"), c => c.SendAsync("""{"type":"\udc00x"}""")),
        new("envelopes", "a payload escaping a lone surrogate", new(Error: "bad_request"), c => c.SendAsync($$$"""{"type":"publish","data":{"room":"{{{c.Room}}}","payload":"\ud83d"}}""")),
        new("envelopes", "a room name with a slash", new(Error: "bad_request"), c => c.SendAsync("""{"type":"join","data":{"room":"a/b"}}""")),
        new("envelopes", "a room name of 129 characters", new(Error: "bad_request"), c => c.SendAsync($$$"""{"type":"join","data":{"room":"{{{new string('r', 129)}}}"}}""")),
        new("envelopes", "an empty room name", new(Error: "bad_request"), c => c.SendAsync("""{"type":"join","data":{"room":""}}""")),
        new("envelopes", "a room that is a number", new(Error: "bad_request"), c => c.SendAsync("""{"type":"join","data":{"room":5}}""")),
        new("envelopes", "since with a negative offset", new(Error: "bad_request"), c => c.SendAsync("""{"type":"join","data":{"room":"s1","since":{"epoch":"e","offset":-1}}}""")),
        new("envelopes", "since with a fractional offset", new(Error: "bad_request"), c => c.SendAsync("""{"type":"join","data":{"room":"s2","since":{"epoch":"e","offset":1.5}}}""")),
        new("envelopes", "since with an offset past 2^63", new(Error: "bad_request"), c => c.SendAsync("""{"type":"join","data":{"room":"s3","since":{"epoch":"e","offset":1e30}}}""")),
        new("envelopes", "since without an epoch", new(Error: "bad_request"), c => c.SendAsync("""{"type":"join","data":{"room":"s4","since":{"offset":1}}}""")),
        new("envelopes", "publish without a payload", new(Error: "bad_request"), c => c.SendAsync($$$"""{"type":"publish","data":{"room":"{{{c.Room}}}"}}""")),
        new("envelopes", "send to a user id of 257 characters", new(Error: "bad_request"), c => c.SendAsync($$$"""{"type":"send","data":{"user":"{{{new string('u', 257)}}}","payload":1}}""")),
        new("envelopes", "publish to a room not joined", new(Error: "forbidden"), c => c.SendAsync("""{"type":"publish","data":{"room":"not-joined","payload":1}}""")),
        new("envelopes", "publish without a room (route broadcast, not opted in)", new(Error: "forbidden"), c => c.SendAsync("""{"type":"publish","data":{"payload":"spam everyone"}}""")),
        new("envelopes", "a join past MaxRoomsPerConnection", new(Error: "forbidden"), async c =>
        {
            for (var i = 1; i < AdversarialHostFixture.MaxRooms; i++)
            {
                await c.SendAsync($$$"""{"type":"join","id":"fill-{{{i}}}","data":{"room":"{{{c.Room}}}-fill-{{{i}}}"}}""");
                await ExpectReplyAsync(c.Socket!, $"fill-{i}", "joined");
            }
            await c.SendAsync($$$"""{"type":"join","data":{"room":"{{{c.Room}}}-one-too-many"}}""");
        }),

        // ---- auth (PROTOCOL §2): refused before the upgrade, or error unauthorized + 4401 ----
        new("auth", "unknown route", new(Http: 404), c => HandshakeAsync(c, "/ws/no-such-route"), Connect.Itself),
        new("auth", "an Origin not allowed on the route", new(Http: 403), c => HandshakeAsync(c, $"/ws/{AdversarialHostFixture.GuardedRoute}", origin: "https://evil.example"), Connect.Itself),
        new("auth", "a garbage ticket", new(Http: 401), c => HandshakeAsync(c, "/ws/chat?ticket=" + new string('A', 43)), Connect.Itself),
        new("auth", "a ticket of 5,000 characters", new(Http: 401), c => HandshakeAsync(c, "/ws/chat?ticket=" + new string('A', 5_000)), Connect.Itself),
        new("auth", "a request line past Kestrel's 8 KiB limit", new(Http: 414), c => HandshakeAsync(c, "/ws/chat?ticket=" + new string('A', 10_000)), Connect.Itself),
        new("auth", "a reused ticket", new(Http: 401), async c =>
        {
            var ticket = await IssueTicketAsync(c);
            var first = await RawWebSocket.ConnectAsync(c.Host.BaseUri, "/ws/chat?ticket=" + ticket);
            c.Extra.Add(first);
            Assert.Equal(101, first.HandshakeStatus);
            await HandshakeAsync(c, "/ws/chat?ticket=" + ticket);
        }, Connect.Itself),
        new("auth", "a first frame that is not auth", new(Error: "unauthorized", Close: 4401), c => FirstFrameAsync(c, """{"type":"join","data":{"room":"x"}}"""), Connect.Itself),
        new("auth", "a first frame that is not JSON", new(Error: "unauthorized", Close: 4401), c => FirstFrameAsync(c, "garbage"), Connect.Itself),
        new("auth", "an expired JWT", new(Error: "unauthorized", Close: 4401), c => AuthAsync(c, TestTokens.Create("expired", expires: DateTime.UtcNow.AddMinutes(-5), notBefore: DateTime.UtcNow.AddMinutes(-10))), Connect.Itself),
        new("auth", "a JWT with alg none", new(Error: "unauthorized", Close: 4401), c => AuthAsync(c, TestTokens.Create("unsigned", unsigned: true)), Connect.Itself),
        new("auth", "a JWT signed with another key", new(Error: "unauthorized", Close: 4401), c => AuthAsync(c, TestTokens.Create("forger", credentials: TestTokens.Hs256(new string('k', 40)))), Connect.Itself),
        new("auth", "a JWT for another issuer", new(Error: "unauthorized", Close: 4401), c => AuthAsync(c, TestTokens.Create("elsewhere", issuer: "someone-else")), Connect.Itself),
        new("auth", "a JWT for another audience", new(Error: "unauthorized", Close: 4401), c => AuthAsync(c, TestTokens.Create("elsewhere", audience: "someone-else")), Connect.Itself),
        new("auth", "a JWT without sub", new(Error: "unauthorized", Close: 4401), c => AuthAsync(c, TestTokens.Create(null)), Connect.Itself),
        new("auth", "a JWT of 20,000 characters", new(Error: "unauthorized", Close: 4401), c => AuthAsync(c, new string('e', 20_000)), Connect.Itself),
        new("auth", "a JWT whose sub is the reserved sender 'server'", new(Error: "unauthorized", Close: 4401), c => AuthAsync(c, TestTokens.Valid("server")), Connect.Itself),
        new("auth", "a JWT whose sub poses as an anonymous connection", new(Error: "unauthorized", Close: 4401), c => AuthAsync(c, TestTokens.Valid("anon-0123456789abcdef")), Connect.Itself),
        new("auth", "no auth frame before the deadline", new(Close: 4401), async c =>
        {
            c.Socket = await RawWebSocket.ConnectAsync(c.Host.BaseUri, "/ws/chat");
            Assert.Equal(101, c.Socket.HandshakeStatus);
        }, Connect.Itself),
        new("auth", "a refresh for another user", new(Error: "unauthorized", Close: 4401), c => c.SendAsync($$$"""{"type":"auth","data":{"token":"{{{TestTokens.Valid("someone-else")}}}"}}""")),

        // ---- abuse: floods, churn, storms, slow readers ----
        new("abuse", "a flood far past the inbound rate", new(Error: "rate_limited", Close: 1008), async c =>
        {
            for (var i = 0; i < 10 * AdversarialHostFixture.RatePerSecond; i++) await c.SendAsync($$$"""{"type":"ping","id":"f{{{i}}}"}""");
        }),
        new("abuse", "joins past the user's join burst, over several connections", new(Error: "rate_limited"), async c =>
        {
            // The attacker's own join of the room took one; two more connections of the same user (the
            // cap is three) take the rest, each well under its own inbound rate and room limit.
            var refused = 0;
            for (var k = 0; k < 2; k++)
            {
                var other = await RawWebSocket.ConnectAuthenticatedAsync(c.Host.BaseUri, TestTokens.Valid(c.User));
                c.Extra.Add(other);
                for (var i = 0; i < AdversarialHostFixture.MaxRooms; i++)
                {
                    await other.SendTextAsync($$$"""{"type":"join","id":"j{{{i}}}","data":{"room":"{{{c.Room}}}-churn-{{{k}}}-{{{i}}}"}}""");
                    var answer = await ReplyAsync(other, $"j{i}");
                    if (answer.GetProperty("type").GetString() == "error")
                    {
                        Assert.Equal("rate_limited", answer.GetProperty("data").GetProperty("code").GetString());
                        refused++;
                    }
                }
            }
            Assert.Equal(1 + 2 * AdversarialHostFixture.MaxRooms - AdversarialHostFixture.JoinBurstPerUser, refused);
            await c.SendAsync($$$"""{"type":"join","data":{"room":"{{{c.Room}}}-one-more"}}""");
        }),
        new("abuse", "a presence storm by 20 users churning the room", new(Served: true), async c =>
        {
            var churners = new List<RawWebSocket>();
            for (var i = 0; i < 20; i++)
            {
                var churner = await RawWebSocket.ConnectAuthenticatedAsync(c.Host.BaseUri, TestTokens.Valid($"{c.User}-churner-{i}"));
                c.Extra.Add(churner);
                churners.Add(churner);
            }
            await Task.WhenAll(churners.Select(async churner =>
            {
                // Within each churner's join burst: the storm is the number of users, not one user's rate.
                for (var n = 0; n < AdversarialHostFixture.JoinBurstPerUser; n++)
                {
                    await churner.SendTextAsync($$$"""{"type":"join","data":{"room":"{{{c.Room}}}"}}""");
                    await churner.SendTextAsync($$$"""{"type":"leave","data":{"room":"{{{c.Room}}}"}}""");
                }
            }));
            await c.SendAsync("""{"type":"ping","id":"served"}""");
        }),
        new("abuse", "one connection more than MaxConnectionsPerUser", new(Error: "forbidden", Close: 4403), async c =>
        {
            // The attacker's socket is the first; the others fill the cap; the next one is refused.
            for (var i = 1; i < AdversarialHostFixture.MaxConnectionsPerUser; i++)
                c.Extra.Add(await RawWebSocket.ConnectAuthenticatedAsync(c.Host.BaseUri, TestTokens.Valid(c.User)));
            var first = c.Socket!;
            c.Extra.Add(first);
            c.Socket = await RawWebSocket.ConnectAsync(c.Host.BaseUri, "/ws/chat");
            await c.Socket.SendTextAsync(JsonSerializer.Serialize(new { type = "auth", data = new { token = TestTokens.Valid(c.User) } }));
            // The ones within the cap still work.
            await first.SendTextAsync("""{"type":"ping","id":"within-cap"}""");
            await ExpectReplyAsync(first, "within-cap", "pong");
        }),
        new("abuse", "handshakes from one IP past MaxConnectionsPerIp", new(Http: 429), async c =>
        {
            for (var i = 0; i < AdversarialHostFixture.MaxConnectionsPerIp + 5; i++)
            {
                var socket = await RawWebSocket.ConnectAsync(c.Host.BaseUri, "/ws/chat");
                if (socket.HandshakeStatus != 101)
                {
                    c.Socket = socket;
                    return;
                }
                c.Extra.Add(socket);
            }
        }, Connect.Itself),
        new("abuse", "history filled with the largest messages a user may send", new(Served: true), async c =>
        {
            // Five messages of 60 KB (within the inbound burst): more than the room's HistoryMaxBytes (128 KiB) keeps.
            var big = new string('h', 60 * 1000);
            for (var i = 0; i < 5; i++)
            {
                await c.SendAsync($$$"""{"type":"publish","id":"h{{{i}}}","data":{"room":"{{{c.Room}}}","payload":"{{{big}}}"}}""");
                await ExpectReplyAsync(c.Socket!, $"h{i}", "ack");
            }
            // A late joiner asking for everything gets what the budget kept, in order, and recovered:false.
            using var info = new HttpRequestMessage(HttpMethod.Get, $"/api/rooms/{c.Room}");
            info.Headers.Add("X-Api-Key", AdversarialHostFixture.ApiKey);
            using var response = await c.Host.Http.SendAsync(info);
            var room = await response.Content.ReadFromJsonAsync<JsonElement>();
            var epoch = room.GetProperty("epoch").GetString();
            var offset = room.GetProperty("offset").GetInt64();
            var late = await RawWebSocket.ConnectAuthenticatedAsync(c.Host.BaseUri, TestTokens.Valid(c.User + "-late"));
            c.Extra.Add(late);
            await late.SendTextAsync(JsonSerializer.Serialize(new { type = "join", id = "late", data = new { room = c.Room, since = new { epoch, offset = 0 } } }));
            var kept = new List<long>();
            JsonElement joined;
            while (true)
            {
                var frame = await late.ReceiveEnvelopeAsync();
                if (frame.GetProperty("type").GetString() == "message") kept.Add(frame.GetProperty("data").GetProperty("offset").GetInt64());
                else if (frame.GetProperty("type").GetString() == "joined") { joined = frame; break; }
            }
            Assert.False(joined.GetProperty("data").GetProperty("recovered").GetBoolean());
            Assert.InRange(kept.Count, 1, AdversarialHostFixture.HistoryMaxBytes / (60 * 1000));
            Assert.Equal(Enumerable.Range((int)(offset - kept.Count + 1), kept.Count).Select(o => (long)o), kept);
            await c.SendAsync("""{"type":"ping","id":"served"}""");
        }),
        new("abuse", "a member that stops reading", new(Close: 4508), async c =>
        {
            // The attacker reads nothing while the room gets far more than its queue and the socket buffers hold.
            var big = new string('z', 60 * 1024);
            for (var i = 0; i < 200; i++) await c.PublishAsync(new { big, i });
        }),
    ];
}
