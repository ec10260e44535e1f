using System.Text;
using Broker.Contracts.Protocol;

namespace Broker.Tests.Protocol;

/// <summary>
/// Every server → client frame is one JSON envelope with exactly the shape of PROTOCOL §3:
/// <c>type</c>, <c>id</c> only when replying to a frame that had one, and camelCase <c>data</c>.
/// </summary>
public sealed class ServerFramesTests
{
    private static readonly JsonElement Payload = JsonDocument.Parse("""{"text":"hi","n":[1,2.5,null,true]}""").RootElement;

    [Fact]
    public void Welcome_has_connection_user_node_expiresAt_and_heartbeat_in_milliseconds()
    {
        var frame = Parse(ServerFrames.Welcome(new WelcomeData("c1", "alice", "node-a", 1_700_000_000_000, new HeartbeatData(25_000, 10_000))));

        AssertEnvelope(frame, "welcome", id: null, "connection", "user", "node", "expiresAt", "heartbeat");
        var data = frame.GetProperty("data");
        Assert.Equal("c1", data.GetProperty("connection").GetString());
        Assert.Equal("alice", data.GetProperty("user").GetString());
        Assert.Equal("node-a", data.GetProperty("node").GetString());
        Assert.Equal(1_700_000_000_000, data.GetProperty("expiresAt").GetInt64());
        AssertKeys(data.GetProperty("heartbeat"), "interval", "timeout");
        Assert.Equal(25_000, data.GetProperty("heartbeat").GetProperty("interval").GetInt64());
        Assert.Equal(10_000, data.GetProperty("heartbeat").GetProperty("timeout").GetInt64());
    }

    [Fact]
    public void Welcome_without_expiry_carries_expiresAt_null()
    {
        var frame = Parse(ServerFrames.Welcome(new WelcomeData("c1", "anon-c1", "node-a", null, new HeartbeatData(1000, 500))));

        AssertEnvelope(frame, "welcome", id: null, "connection", "user", "node", "expiresAt", "heartbeat");
        Assert.Equal(JsonValueKind.Null, frame.GetProperty("data").GetProperty("expiresAt").ValueKind);
    }

    [Fact]
    public void Refreshed_echoes_the_id_and_carries_expiresAt()
    {
        var frame = Parse(ServerFrames.Refreshed("r1", 1_700_000_000_123));

        AssertEnvelope(frame, "refreshed", "r1", "expiresAt");
        Assert.Equal(1_700_000_000_123, frame.GetProperty("data").GetProperty("expiresAt").GetInt64());
    }

    [Fact]
    public void Error_has_code_and_message_and_echoes_the_id()
    {
        var frame = Parse(ServerFrames.Error("e1", ErrorCodes.Forbidden, "no"));

        AssertEnvelope(frame, "error", "e1", "code", "message");
        Assert.Equal("forbidden", frame.GetProperty("data").GetProperty("code").GetString());
        Assert.Equal("no", frame.GetProperty("data").GetProperty("message").GetString());
    }

    [Fact]
    public void Error_without_an_id_has_no_id_field() =>
        AssertEnvelope(Parse(ServerFrames.Error(new ProtocolError(ErrorCodes.BadRequest, "bad"))), "error", id: null, "code", "message");

    [Fact]
    public void Publish_ack_carries_the_offset_and_epoch()
    {
        var data = AssertEnvelope(Parse(ServerFrames.PublishAck("p", 7, "e1")), "ack", "p", "offset", "epoch");
        Assert.Equal(7, data.GetProperty("offset").GetInt64());
        Assert.Equal("e1", data.GetProperty("epoch").GetString());
    }

    [Fact]
    public void Send_ack_carries_the_number_delivered() =>
        Assert.Equal(3, AssertEnvelope(Parse(ServerFrames.SendAck("s", 3)), "ack", "s", "delivered").GetProperty("delivered").GetInt32());

    [Fact]
    public void Message_has_room_offset_epoch_from_and_the_payload_verbatim()
    {
        var data = AssertEnvelope(Parse(ServerFrames.Message(new MessageData("general", 42, "e-1", "alice", Payload))),
            "message", id: null, "room", "offset", "epoch", "from", "payload");

        Assert.Equal("general", data.GetProperty("room").GetString());
        Assert.Equal(42, data.GetProperty("offset").GetInt64());
        Assert.Equal("e-1", data.GetProperty("epoch").GetString());
        Assert.Equal("alice", data.GetProperty("from").GetString());
        Assert.Equal(Payload.GetRawText(), data.GetProperty("payload").GetRawText());
    }

    [Fact]
    public void Message_of_a_route_broadcast_keeps_room_and_epoch_as_null()
    {
        var data = AssertEnvelope(Parse(ServerFrames.Message(new MessageData(null, 1, null, "backend", Payload))),
            "message", id: null, "room", "offset", "epoch", "from", "payload");

        Assert.Equal(JsonValueKind.Null, data.GetProperty("room").ValueKind);
        Assert.Equal(JsonValueKind.Null, data.GetProperty("epoch").ValueKind);
    }

    [Fact]
    public void Message_with_a_null_payload_keeps_the_payload_field() =>
        Assert.Equal(JsonValueKind.Null, AssertEnvelope(
            Parse(ServerFrames.Message(new MessageData("r", 1, "e", "u", JsonDocument.Parse("null").RootElement))),
            "message", id: null, "room", "offset", "epoch", "from", "payload").GetProperty("payload").ValueKind);

    [Fact]
    public void Direct_has_from_and_payload()
    {
        var data = AssertEnvelope(Parse(ServerFrames.Direct(new DirectData("bob", Payload))), "direct", id: null, "from", "payload");

        Assert.Equal("bob", data.GetProperty("from").GetString());
        Assert.Equal(Payload.GetRawText(), data.GetProperty("payload").GetRawText());
    }

    [Fact]
    public void Presence_has_room_event_and_user()
    {
        var data = AssertEnvelope(Parse(ServerFrames.Presence(new PresenceData("general", "join", "bob"))), "presence", id: null, "room", "event", "user");

        Assert.Equal(("general", "join", "bob"), (data.GetProperty("room").GetString(), data.GetProperty("event").GetString(), data.GetProperty("user").GetString()));
    }

    [Fact]
    public void Joined_has_room_epoch_offset_members_recovered_and_count()
    {
        var data = AssertEnvelope(Parse(ServerFrames.Joined("j1", new JoinedData("general", "e-1", 9, ["alice", "bob"], true, 2))),
            "joined", "j1", "room", "epoch", "offset", "members", "recovered", "count");

        Assert.Equal(["alice", "bob"], data.GetProperty("members").EnumerateArray().Select(m => m.GetString()));
        Assert.True(data.GetProperty("recovered").GetBoolean());
        Assert.Equal(9, data.GetProperty("offset").GetInt64());
        Assert.Equal(2, data.GetProperty("count").GetInt32());
    }

    [Fact]
    public void Joined_of_a_room_that_counts_has_no_members_property()
    {
        var data = AssertEnvelope(Parse(ServerFrames.Joined("j1", new JoinedData("big", "e-1", 0, null, false, 15000))),
            "joined", "j1", "room", "epoch", "offset", "recovered", "count");

        Assert.False(data.TryGetProperty("members", out _));
        Assert.Equal(15000, data.GetProperty("count").GetInt32());
    }

    [Fact]
    public void Left_has_the_room() =>
        Assert.Equal("general", AssertEnvelope(Parse(ServerFrames.Left("l1", "general")), "left", "l1", "room").GetProperty("room").GetString());

    [Fact]
    public void Ping_is_a_bare_typed_envelope() =>
        Assert.Equal("""{"type":"ping"}""", Encoding.UTF8.GetString(ServerFrames.Ping));

    [Fact]
    public void Pong_echoes_the_id_only_when_there_was_one()
    {
        Assert.Equal("""{"type":"pong"}""", Encoding.UTF8.GetString(ServerFrames.Pong(null)));
        AssertKeys(Parse(ServerFrames.Pong("p\"1")), "type", "id");
        Assert.Equal("p\"1", Parse(ServerFrames.Pong("p\"1")).GetProperty("id").GetString());
    }

    [Theory]
    [InlineData("quote \" backslash \\ slash /")]
    [InlineData("control \u0001 \n \t")]
    [InlineData("</script><script>alert(1)</script>")]
    [InlineData("emoji 😀 and 中文 and é")]
    public void Strings_round_trip_through_valid_json(string text)
    {
        var frame = Parse(ServerFrames.Error(text, ErrorCodes.BadRequest, text));

        Assert.Equal(text, frame.GetProperty("id").GetString());
        Assert.Equal(text, frame.GetProperty("data").GetProperty("message").GetString());
    }

    [Fact]
    public void Frames_after_a_huge_frame_are_still_well_formed()
    {
        var huge = JsonDocument.Parse(JsonSerializer.Serialize(new string('x', 400_000))).RootElement;

        var big = Parse(ServerFrames.Direct(new DirectData("a", huge)));
        var small = Parse(ServerFrames.PublishAck("after", 1, "e"));

        Assert.Equal(400_000, big.GetProperty("data").GetProperty("payload").GetString()!.Length);
        AssertEnvelope(small, "ack", "after", "offset", "epoch");
    }

    [Fact]
    public void Frames_written_on_many_threads_do_not_interfere()
    {
        Parallel.For(0, 2000, i =>
        {
            var frame = Parse(ServerFrames.PublishAck("id-" + i, i, "e"));
            Assert.Equal("id-" + i, frame.GetProperty("id").GetString());
            Assert.Equal(i, frame.GetProperty("data").GetProperty("offset").GetInt64());
        });
    }

    // ---- helpers ----

    private static JsonElement Parse(byte[] utf8) => JsonDocument.Parse(utf8).RootElement.Clone();

    /// <summary>Asserts the exact envelope keys, the type, the id (or its absence) and the exact data keys; returns data.</summary>
    private static JsonElement AssertEnvelope(JsonElement frame, string type, string? id, params string[] dataKeys)
    {
        Assert.Equal(JsonValueKind.Object, frame.ValueKind);
        if (id is null) AssertKeys(frame, "type", "data");
        else AssertKeys(frame, "type", "id", "data");
        Assert.Equal(type, frame.GetProperty("type").GetString());
        if (id is not null) Assert.Equal(id, frame.GetProperty("id").GetString());
        var data = frame.GetProperty("data");
        AssertKeys(data, dataKeys);
        return data;
    }

    private static void AssertKeys(JsonElement obj, params string[] keys) =>
        Assert.Equal(keys.Order(StringComparer.Ordinal), obj.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
}
