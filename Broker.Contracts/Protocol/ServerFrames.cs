using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Broker.Contracts.Protocol;

/// <summary>
/// Writes server → client envelopes as UTF-8 bytes, ready for the socket. A broadcast is written
/// once here and the same array is handed to every recipient.
/// </summary>
public static class ServerFrames
{
    private static readonly BrokerJsonContext Json = BrokerJsonContext.Default;

    [ThreadStatic] private static ArrayBufferWriter<byte>? _buffer;
    [ThreadStatic] private static Utf8JsonWriter? _writer;

    public static byte[] Welcome(WelcomeData data) => Write(FrameTypes.Welcome, null, data, Json.WelcomeData);
    public static byte[] Refreshed(string? id, long expiresAt) => Write(FrameTypes.Refreshed, id, new RefreshedData(expiresAt), Json.RefreshedData);
    public static byte[] Error(string? id, string code, string message) => Write(FrameTypes.Error, id, new ErrorData(code, message), Json.ErrorData);
    public static byte[] Error(ProtocolError error) => Error(error.Id, error.Code, error.Message);
    public static byte[] PublishAck(string? id, long offset, string? epoch) => Write(FrameTypes.Ack, id, new PublishAckData(offset, epoch), Json.PublishAckData);
    public static byte[] SendAck(string? id, int delivered) => Write(FrameTypes.Ack, id, new SendAckData(delivered), Json.SendAckData);
    public static byte[] Message(MessageData data) => Write(FrameTypes.Message, null, data, Json.MessageData);
    public static byte[] Direct(DirectData data) => Write(FrameTypes.Direct, null, data, Json.DirectData);
    public static byte[] Presence(PresenceData data) => Write(FrameTypes.Presence, null, data, Json.PresenceData);
    public static byte[] Occupancy(OccupancyData data) => Write(FrameTypes.Occupancy, null, data, Json.OccupancyData);
    public static byte[] Joined(string? id, JoinedData data) => Write(FrameTypes.Joined, id, data, Json.JoinedData);
    public static byte[] Left(string? id, string room) => Write(FrameTypes.Left, id, new LeftData(room), Json.LeftData);

    /// <summary>
    /// A <c>message</c> frame around a raw JSON payload. The hot path of every broadcast: written
    /// directly so the payload bytes are copied, never parsed again. Null room/epoch mark a
    /// route-wide broadcast. Same shape as <see cref="MessageData"/>.
    /// </summary>
    public static byte[] Message(string? room, long offset, string? epoch, string from, ReadOnlySpan<byte> payloadJson)
    {
        var (buffer, writer) = Rent();
        writer.WriteStartObject();
        writer.WriteString("type"u8, FrameTypes.Message);
        writer.WriteStartObject("data"u8);
        if (room is null) writer.WriteNull("room"u8); else writer.WriteString("room"u8, room);
        writer.WriteNumber("offset"u8, offset);
        if (epoch is null) writer.WriteNull("epoch"u8); else writer.WriteString("epoch"u8, epoch);
        writer.WriteString("from"u8, from);
        writer.WritePropertyName("payload"u8);
        writer.WriteRawValue(payloadJson, skipInputValidation: true);
        writer.WriteEndObject();
        writer.WriteEndObject();
        return Finish(buffer, writer);
    }

    /// <summary>A <c>direct</c> frame around a raw JSON payload. Same shape as <see cref="DirectData"/>.</summary>
    public static byte[] Direct(string from, ReadOnlySpan<byte> payloadJson)
    {
        var (buffer, writer) = Rent();
        writer.WriteStartObject();
        writer.WriteString("type"u8, FrameTypes.Direct);
        writer.WriteStartObject("data"u8);
        writer.WriteString("from"u8, from);
        writer.WritePropertyName("payload"u8);
        writer.WriteRawValue(payloadJson, skipInputValidation: true);
        writer.WriteEndObject();
        writer.WriteEndObject();
        return Finish(buffer, writer);
    }

    /// <summary>
    /// A frame of an application-defined type: <c>{"type":…,"id":…,"data":…}</c>, the reply of a
    /// custom message handler. <paramref name="dataJson"/> is raw UTF-8 JSON; empty omits <c>data</c>.
    /// </summary>
    public static byte[] Custom(string type, string? id, ReadOnlySpan<byte> dataJson)
    {
        var (buffer, writer) = Rent();
        writer.WriteStartObject();
        writer.WriteString("type"u8, type);
        if (id is not null) writer.WriteString("id"u8, id);
        if (!dataJson.IsEmpty)
        {
            writer.WritePropertyName("data"u8);
            writer.WriteRawValue(dataJson, skipInputValidation: true);
        }
        writer.WriteEndObject();
        return Finish(buffer, writer);
    }

    /// <summary>The raw UTF-8 JSON of a parsed payload, detached from its document.</summary>
    public static byte[] RawJson(JsonElement element) =>
        System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(element).ToArray();

    /// <summary>The server's heartbeat <c>ping</c>; identical for everyone, so one shared array.</summary>
    public static readonly byte[] Ping = """{"type":"ping"}"""u8.ToArray();

    public static byte[] Pong(string? id) => id is null ? PongNoId : WriteNoData(FrameTypes.Pong, id);
    private static readonly byte[] PongNoId = """{"type":"pong"}"""u8.ToArray();

    private static byte[] WriteNoData(string type, string? id)
    {
        var (buffer, writer) = Rent();
        writer.WriteStartObject();
        writer.WriteString("type"u8, type);
        if (id is not null) writer.WriteString("id"u8, id);
        writer.WriteEndObject();
        return Finish(buffer, writer);
    }

    private static byte[] Write<T>(string type, string? id, T data, JsonTypeInfo<T> info)
    {
        var (buffer, writer) = Rent();
        writer.WriteStartObject();
        writer.WriteString("type"u8, type);
        if (id is not null) writer.WriteString("id"u8, id);
        writer.WritePropertyName("data"u8);
        JsonSerializer.Serialize(writer, data, info);
        writer.WriteEndObject();
        return Finish(buffer, writer);
    }

    // One writer and buffer per thread: frames are small and written synchronously, so reuse
    // avoids a fresh buffer per frame; only the exact-size result array is allocated.
    private static (ArrayBufferWriter<byte>, Utf8JsonWriter) Rent()
    {
        var buffer = _buffer ??= new ArrayBufferWriter<byte>(1024);
        buffer.ResetWrittenCount();
        var writer = _writer ??= new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        writer.Reset(buffer);
        return (buffer, writer);
    }

    private static byte[] Finish(ArrayBufferWriter<byte> buffer, Utf8JsonWriter writer)
    {
        writer.Flush();
        var result = buffer.WrittenSpan.ToArray();
        if (buffer.Capacity > 256 * 1024)
        {
            // A huge payload grew the thread's buffer; let it go rather than pin it forever.
            _buffer = null;
            _writer = null;
        }
        return result;
    }
}
