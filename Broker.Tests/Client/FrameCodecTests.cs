using System.Text;
using Broker.Client.Internal;

namespace Broker.Tests.Client;

/// <summary>The client's frame reader and writer, without a socket.</summary>
public sealed class FrameCodecTests
{
    private static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

    [Theory]
    [InlineData("""{"type":"ack","id":"17","data":{"offset":3}}""", nameof(InboundType.Ack), 17)]
    [InlineData("""{"data":{"offset":3},"id":"17","type":"ack"}""", nameof(InboundType.Ack), 17)] // any property order
    [InlineData("""{"type":"pong","id":"not-ours"}""", nameof(InboundType.Pong), 0)]            // ids the client did not send
    [InlineData("""{"type":"pong","id":"-4"}""", nameof(InboundType.Pong), 0)]
    [InlineData("""{"type":"ping"}""", nameof(InboundType.Ping), 0)]
    [InlineData("""{"type":"message","extra":[1,{"a":2}],"data":{}}""", nameof(InboundType.Message), 0)]
    public void Envelopes_are_classified_with_their_id(string json, string type, long id)
    {
        Assert.True(InboundFrame.TryReadEnvelope(Utf8(json), out var actualType, out var actualId, out _, out _));
        Assert.Equal((type, id), (actualType.ToString(), actualId));
    }

    [Theory]
    [InlineData("""{"type":"brand-new"}""")]
    [InlineData("""{"id":"1"}""")]
    [InlineData("""[1,2]""")]
    [InlineData("""{"type":"ack",""")]
    [InlineData("""not json""")]
    public void Unknown_or_malformed_frames_are_not_read(string json) =>
        Assert.False(InboundFrame.TryReadEnvelope(Utf8(json), out _, out _, out _, out _));

    [Fact]
    public void A_message_is_read_in_place_with_its_payload_range()
    {
        var frame = Utf8("""{"type":"message","data":{"room":"r\u002D1","offset":42,"epoch":"e7","from":"alice","payload":{"text":"hi","n":[1,2]}}}""");
        Assert.True(InboundFrame.TryReadEnvelope(frame, out _, out _, out var start, out var length));
        var data = frame.AsSpan(start, length);

        Assert.True(InboundFrame.TryReadMessage(data, out var fields));

        Span<char> room = stackalloc char[128];
        Assert.True(fields.Room.TryDecode(room, out var written));
        Assert.Equal("r-1", room[..written].ToString()); // escaped in the frame, decoded
        Assert.Equal(42, fields.Offset);
        Assert.True(fields.Epoch.EqualsUtf8(Utf8("e7")));
        Assert.Equal("alice", fields.From.ToString());
        Assert.Equal("""{"text":"hi","n":[1,2]}""", Encoding.UTF8.GetString(data.Slice(fields.PayloadStart, fields.PayloadLength)));
    }

    [Fact]
    public void A_route_wide_broadcast_has_no_room_or_epoch()
    {
        var data = Utf8("""{"room":null,"offset":1,"epoch":null,"from":"server","payload":1}""");

        Assert.True(InboundFrame.TryReadMessage(data, out var fields));

        Assert.True(fields.Room.IsNull);
        Assert.True(fields.Epoch.IsNull);
    }

    [Fact]
    public void A_message_without_a_payload_is_refused() =>
        Assert.False(InboundFrame.TryReadMessage(Utf8("""{"room":"r","offset":1,"epoch":"e","from":"u"}"""), out _));

    [Fact]
    public void Frames_are_written_as_the_protocol_says_and_the_buffer_is_reused()
    {
        var writer = new FrameWriter();

        var json = writer.Begin("publish", 12);
        json.WriteStartObject("data"u8);
        json.WriteString("room"u8, "lobby");
        json.WritePropertyName("payload"u8);
        json.WriteRawValue("""{"text":"hé \"q\""}""");
        var first = Encoding.UTF8.GetString(writer.EndWithData().Span);
        writer.Begin("pong", 0);
        var second = Encoding.UTF8.GetString(writer.End().Span);

        using var parsed = JsonDocument.Parse(first);
        Assert.Equal("publish", parsed.RootElement.GetProperty("type").GetString());
        Assert.Equal("12", parsed.RootElement.GetProperty("id").GetString());
        Assert.Equal("hé \"q\"", parsed.RootElement.GetProperty("data").GetProperty("payload").GetProperty("text").GetString());
        Assert.Equal("""{"type":"pong"}""", second);
    }
}
