using System.Net;
using System.Net.Http.Json;
using System.Text;

namespace Broker.Tests.Integration;

/// <summary>The host the table runs against: small limits, so every limit is reached in a few frames.</summary>
public sealed class AdversarialHostFixture : HostFixture
{
    public const string ApiKey = "adversarial-table-key"; // a test-only secret
    public const string GuardedRoute = "guarded";
    public const string GoodOrigin = "https://good.example";
    public const int MaxRooms = 3;
    public const int RatePerSecond = 20;
    public const int RateBurst = 10;
    public const int OutboundQueue = 32;
    public const int JoinBurstPerUser = 6;
    public const int MaxConnectionsPerUser = 3;
    public const int MaxConnectionsPerIp = 60;
    public const int HistoryMaxBytes = 128 * 1024;

    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Broker:ApiKey"] = ApiKey,
        ["Broker:Auth:Timeout"] = "00:00:01",
        ["Broker:Limits:MaxRoomsPerConnection"] = MaxRooms.ToString(),
        ["Broker:Limits:RatePerSecond"] = RatePerSecond.ToString(),
        ["Broker:Limits:RateBurst"] = RateBurst.ToString(),
        ["Broker:Limits:OutboundQueue"] = OutboundQueue.ToString(),
        ["Broker:Limits:JoinsPerSecondPerUser"] = "0.1", // one join per 10 s past the burst: no refill within a row
        ["Broker:Limits:JoinBurstPerUser"] = JoinBurstPerUser.ToString(),
        ["Broker:Limits:MaxConnectionsPerUser"] = MaxConnectionsPerUser.ToString(),
        ["Broker:Limits:MaxConnectionsPerIp"] = MaxConnectionsPerIp.ToString(),
        ["Broker:Rooms:HistoryMaxBytes"] = HistoryMaxBytes.ToString(),
        [$"Broker:Routes:{GuardedRoute}:AllowedOrigins:0"] = GoodOrigin,
    };
}

/// <summary>What a row's input must get back: the documented answer (docs/security.md).</summary>
public sealed record Expected(string? Error = null, int? Close = null, int? Http = null, bool Served = false)
{
    public override string ToString() =>
        Error is not null ? $"error {Error}" : Close is not null ? $"close {Close}" : Http is not null ? $"HTTP {Http}" : "served";
}

/// <summary>
/// One adversarial input. <see cref="Attack"/> gets an authenticated raw socket already joined to
/// the row's room (unless <see cref="Connect"/> says otherwise) and sends the input; the runner then
/// checks <see cref="Expect"/> on that socket, and that the room's control member received every
/// message published around the attack, in order.
/// </summary>
public sealed record Row(string Category, string Name, Expected Expect, Func<RowContext, Task> Attack, Connect Connect = Connect.JoinedToRoom)
{
    public string Key => $"{Category}: {Name}";
}

/// <summary>How the attacker starts.</summary>
public enum Connect
{
    /// <summary>Authenticated and a member of the row's room.</summary>
    JoinedToRoom,
    /// <summary>Nothing: the row makes its own connections (handshakes, auth, many connections).</summary>
    Itself,
}

/// <summary>What a row's attack works with.</summary>
public sealed class RowContext(BrokerTestHost host, string room, string user)
{
    public BrokerTestHost Host { get; } = host;
    public string Room { get; } = room;
    public string User { get; } = user;

    /// <summary>The attacker's socket (set for <see cref="Connect.JoinedToRoom"/> rows, or by the attack).</summary>
    public RawWebSocket? Socket { get; set; }

    /// <summary>Sockets the attack opened besides <see cref="Socket"/>; closed after the row.</summary>
    public List<IAsyncDisposable> Extra { get; } = [];

    public Task SendAsync(string text) => Socket!.SendTextAsync(text);

    public Task FrameAsync(byte opcode, byte[] payload, bool fin = true, bool masked = true, byte rsv = 0, ulong? declaredLength = null) =>
        Socket!.SendFrameAsync(opcode, payload, fin, masked, rsv, declaredLength);

    /// <summary>A back-end publish to the row's room; returns its offset.</summary>
    public async Task<long> PublishAsync(object payload)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/publish")
        {
            Content = JsonContent.Create(new { room = Room, payload }),
        };
        request.Headers.Add("X-Api-Key", AdversarialHostFixture.ApiKey);
        using var response = await Host.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("offset").GetInt64();
    }
}

/// <summary>
/// The adversarial table of issue #15, in the style of centrifuge's <c>{input, expected error,
/// expected close code}</c> tables: raw frames, envelopes, auth and abuse. Every row asserts the
/// documented answer (docs/security.md) and that a control member of the same room receives
/// every message published before and after the attack, in order, and stays connected.
/// Run it alone with <c>dotnet test Broker.Tests --filter FullyQualifiedName~AdversarialTable</c>.
/// </summary>
public sealed partial class AdversarialTableTests(AdversarialHostFixture fixture) : IClassFixture<AdversarialHostFixture>
{
    private readonly AdversarialHostFixture _fixture = fixture;

    private const int MessagesAfter = 3;

    private static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

    public static TheoryData<string> Keys
    {
        get
        {
            var keys = new TheoryData<string>();
            foreach (var row in Rows) keys.Add(row.Key);
            return keys;
        }
    }

    [Fact]
    public void Every_row_has_a_unique_key_and_the_table_covers_each_category()
    {
        Assert.Equal(Rows.Length, Rows.Select(r => r.Key).Distinct().Count());
        Assert.Equal(["frames", "envelopes", "auth", "abuse"], Rows.Select(r => r.Category).Distinct());
    }

    [Theory]
    [MemberData(nameof(Keys))]
    public async Task Each_input_gets_its_documented_answer_and_the_rooms_control_member_misses_nothing(string key)
    {
        var row = Rows.Single(r => r.Key == key);
        var index = Array.IndexOf(Rows, row);
        var room = $"table-{index}";
        var user = $"attacker-{index}";
        var context = new RowContext(_fixture.Host, room, user);

        // The control member reads everything as it comes.
        await using var control = await _fixture.Host.ConnectAuthenticatedAsync($"control-{index}", autoPong: true);
        await control.SendAsync("join", "c", new JsonObject { ["room"] = room });
        await control.ReceiveAsync("joined", "c");
        var before = await context.PublishAsync(new { n = "before" });

        try
        {
            if (row.Connect == Connect.JoinedToRoom)
            {
                context.Socket = await RawWebSocket.ConnectAuthenticatedAsync(_fixture.Host.BaseUri, TestTokens.Valid(user));
                await context.Socket.SendTextAsync($$$"""{"type":"join","id":"attacker-join","data":{"room":"{{{room}}}"}}""");
                await ExpectReplyAsync(context.Socket, "attacker-join", "joined");
            }
            await row.Attack(context);
            await AssertAnswerAsync(row, context);

            // Every message published around the attack reaches the control member, in order.
            var offsets = new List<long> { before };
            for (var i = 0; i < MessagesAfter; i++) offsets.Add(await context.PublishAsync(new { n = "after", i }));
            var received = new List<long>();
            while (received.Count == 0 || received[^1] < offsets[^1])
            {
                var message = await control.ReceiveAsync("message", timeout: TimeSpan.FromSeconds(20));
                received.Add(message.Data().GetProperty("offset").GetInt64());
            }
            Assert.Equal(Enumerable.Range((int)before, (int)(offsets[^1] - before + 1)).Select(o => (long)o), received);
            await control.PingPongAsync();
        }
        finally
        {
            if (context.Socket is not null) await context.Socket.DisposeAsync();
            foreach (var extra in context.Extra) await extra.DisposeAsync();
        }
    }

    private static async Task AssertAnswerAsync(Row row, RowContext context)
    {
        var expect = row.Expect;
        if (expect.Http is { } status)
        {
            Assert.True(status == context.Socket!.HandshakeStatus, $"{row.Key}: expected HTTP {status}, got {context.Socket.ResponseHead.Split('\r')[0]}");
            return;
        }
        var socket = context.Socket!;
        if (expect.Error is { } code)
        {
            var error = await NextErrorAsync(socket, row.Key);
            Assert.True(code == error.GetProperty("data").GetProperty("code").GetString(), $"{row.Key}: expected error {code}, got {error}");
        }
        if (expect.Close is { } closeCode)
        {
            var close = await socket.ExpectCloseAsync(TimeSpan.FromSeconds(20));
            Assert.True(close?.CloseCode == closeCode, $"{row.Key}: expected close {closeCode}, got {(close is null ? "no close frame" : $"{close.CloseCode} '{close.CloseReason}'")}");
            return;
        }
        // Not closed: the connection still answers, in order.
        if (expect.Served) await ExpectReplyAsync(socket, "served", "pong");
        await socket.SendTextAsync("""{"type":"ping","id":"still-open"}""");
        await ExpectReplyAsync(socket, "still-open", "pong");
    }

    /// <summary>The next <c>error</c> frame, skipping room traffic (presence, messages) on the way.</summary>
    private static async Task<JsonElement> NextErrorAsync(RawWebSocket socket, string row)
    {
        while (true)
        {
            var envelope = await socket.ReceiveEnvelopeAsync();
            var type = envelope.GetProperty("type").GetString();
            if (type == "error") return envelope;
            // welcome: a connection past MaxConnectionsPerUser is refused just after it (docs/security.md).
            Assert.True(type is "presence" or "occupancy" or "message" or "left" or "pong" or "welcome", $"{row}: unexpected {envelope} before the error");
        }
    }

    private static async Task ExpectReplyAsync(RawWebSocket socket, string id, string type)
    {
        var envelope = await ReplyAsync(socket, id);
        Assert.True(type == envelope.GetProperty("type").GetString(), $"expected {type} for {id}, got {envelope}");
    }

    /// <summary>The first frame that answers request <paramref name="id"/>.</summary>
    private static async Task<JsonElement> ReplyAsync(RawWebSocket socket, string id)
    {
        while (true)
        {
            var envelope = await socket.ReceiveEnvelopeAsync();
            if (envelope.TryGetProperty("id", out var got) && got.ValueKind == JsonValueKind.String && got.GetString() == id) return envelope;
        }
    }

    private static async Task HandshakeAsync(RowContext c, string pathAndQuery, string? origin = null) =>
        c.Socket = await RawWebSocket.ConnectAsync(c.Host.BaseUri, pathAndQuery, origin);

    private static async Task FirstFrameAsync(RowContext c, string frame)
    {
        c.Socket = await RawWebSocket.ConnectAsync(c.Host.BaseUri, "/ws/chat");
        Assert.Equal(101, c.Socket.HandshakeStatus);
        await c.Socket.SendTextAsync(frame);
    }

    private static Task AuthAsync(RowContext c, string token) =>
        FirstFrameAsync(c, JsonSerializer.Serialize(new { type = "auth", data = new { token } }));

    private static async Task<string> IssueTicketAsync(RowContext c)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/auth/ticket");
        request.Headers.Authorization = new("Bearer", TestTokens.Valid(c.User));
        using var response = await c.Host.Http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("ticket").GetString()!;
    }
}
