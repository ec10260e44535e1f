using System.Buffers.Text;
using System.Text;
using System.Text.Json;
using Broker.Client.Protocol;

namespace Broker.Client.Internal;

/// <summary>The server → client frame types the client understands.</summary>
internal enum InboundType : byte { Unknown, Message, Ack, Ping, Pong, Joined, Left, Direct, Presence, Occupancy, Welcome, Refreshed, Error }

/// <summary>
/// A UTF-8 JSON string read from a frame without allocating: the raw bytes when unescaped,
/// otherwise the decoded string.
/// </summary>
internal readonly ref struct Utf8Text(ReadOnlySpan<byte> raw, string? decoded, bool isNull)
{
    public ReadOnlySpan<byte> Raw { get; } = raw;
    public string? Decoded { get; } = decoded;
    public bool IsNull { get; } = isNull;

    /// <summary>Reads the current token; <paramref name="source"/> is the span the reader reads.</summary>
    public static Utf8Text Read(scoped ref Utf8JsonReader reader, ReadOnlySpan<byte> source) => reader.TokenType switch
    {
        JsonTokenType.Null => new Utf8Text(default, null, true),
        JsonTokenType.String when !reader.ValueIsEscaped && !reader.HasValueSequence =>
            new Utf8Text(source.Slice((int)reader.TokenStartIndex + 1, reader.ValueSpan.Length), null, false),
        JsonTokenType.String => new Utf8Text(default, reader.GetString(), false),
        _ => throw new JsonException("expected a string"),
    };

    public bool EqualsUtf8(byte[]? utf8) => Decoded is null ? utf8 is not null && Raw.SequenceEqual(utf8) : utf8 is not null && Encoding.UTF8.GetString(utf8) == Decoded;

    public override string? ToString() => IsNull ? null : Decoded ?? Encoding.UTF8.GetString(Raw);

    /// <summary>Decodes into <paramref name="chars"/>; false when it does not fit.</summary>
    public bool TryDecode(Span<char> chars, out int written)
    {
        if (Decoded is not null)
        {
            written = Decoded.Length;
            return Decoded.AsSpan().TryCopyTo(chars);
        }
        return Encoding.UTF8.TryGetChars(Raw, chars, out written);
    }
}

/// <summary>The fields of a <c>message</c> frame, payload as a range of the frame.</summary>
internal ref struct MessageFields
{
    public Utf8Text Room;
    public long Offset;
    public Utf8Text Epoch;
    public Utf8Text From;
    public int PayloadStart;
    public int PayloadLength;
}

/// <summary>Reads server frames with <see cref="Utf8JsonReader"/>: no document, no per-frame allocation on the hot paths.</summary>
internal static class InboundFrame
{
    private static readonly byte[] MessageU8 = Encoding.UTF8.GetBytes(FrameTypes.Message);
    private static readonly byte[] AckU8 = Encoding.UTF8.GetBytes(FrameTypes.Ack);
    private static readonly byte[] PingU8 = Encoding.UTF8.GetBytes(FrameTypes.Ping);
    private static readonly byte[] PongU8 = Encoding.UTF8.GetBytes(FrameTypes.Pong);
    private static readonly byte[] JoinedU8 = Encoding.UTF8.GetBytes(FrameTypes.Joined);
    private static readonly byte[] LeftU8 = Encoding.UTF8.GetBytes(FrameTypes.Left);
    private static readonly byte[] DirectU8 = Encoding.UTF8.GetBytes(FrameTypes.Direct);
    private static readonly byte[] PresenceU8 = Encoding.UTF8.GetBytes(FrameTypes.Presence);
    private static readonly byte[] OccupancyU8 = Encoding.UTF8.GetBytes(FrameTypes.Occupancy);
    private static readonly byte[] WelcomeU8 = Encoding.UTF8.GetBytes(FrameTypes.Welcome);
    private static readonly byte[] RefreshedU8 = Encoding.UTF8.GetBytes(FrameTypes.Refreshed);
    private static readonly byte[] ErrorU8 = Encoding.UTF8.GetBytes(FrameTypes.Error);

    /// <summary>
    /// Reads the envelope. <paramref name="id"/> is 0 when absent or not one of the client's numeric
    /// ids; <paramref name="dataLength"/> is 0 without <c>data</c>.
    /// </summary>
    public static bool TryReadEnvelope(ReadOnlySpan<byte> json, out InboundType type, out long id, out int dataStart, out int dataLength)
    {
        type = InboundType.Unknown;
        id = 0;
        dataStart = 0;
        dataLength = 0;
        try
        {
            var reader = new Utf8JsonReader(json);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("type"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.String) type = Classify(ref reader);
                }
                else if (reader.ValueTextEquals("id"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.String && !reader.ValueIsEscaped
                        && Utf8Parser.TryParse(reader.ValueSpan, out long parsed, out var consumed) && consumed == reader.ValueSpan.Length && parsed > 0)
                        id = parsed;
                }
                else if (reader.ValueTextEquals("data"u8))
                {
                    reader.Read();
                    dataStart = (int)reader.TokenStartIndex;
                    reader.Skip();
                    dataLength = (int)reader.BytesConsumed - dataStart;
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
            return type != InboundType.Unknown;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static InboundType Classify(ref Utf8JsonReader reader)
    {
        // Most frequent first.
        if (reader.ValueTextEquals(MessageU8)) return InboundType.Message;
        if (reader.ValueTextEquals(AckU8)) return InboundType.Ack;
        if (reader.ValueTextEquals(PingU8)) return InboundType.Ping;
        if (reader.ValueTextEquals(DirectU8)) return InboundType.Direct;
        if (reader.ValueTextEquals(PresenceU8)) return InboundType.Presence;
        if (reader.ValueTextEquals(OccupancyU8)) return InboundType.Occupancy;
        if (reader.ValueTextEquals(PongU8)) return InboundType.Pong;
        if (reader.ValueTextEquals(JoinedU8)) return InboundType.Joined;
        if (reader.ValueTextEquals(LeftU8)) return InboundType.Left;
        if (reader.ValueTextEquals(ErrorU8)) return InboundType.Error;
        if (reader.ValueTextEquals(WelcomeU8)) return InboundType.Welcome;
        if (reader.ValueTextEquals(RefreshedU8)) return InboundType.Refreshed;
        return InboundType.Unknown;
    }

    /// <summary><c>message</c> data; payload offsets are relative to <paramref name="data"/>.</summary>
    public static bool TryReadMessage(ReadOnlySpan<byte> data, out MessageFields fields)
    {
        fields = default;
        var hasOffset = false;
        var hasPayload = false;
        var hasFrom = false;
        try
        {
            var reader = new Utf8JsonReader(data);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return false;
            fields.Room = new Utf8Text(default, null, true);
            fields.Epoch = new Utf8Text(default, null, true);
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("room"u8)) { reader.Read(); fields.Room = Utf8Text.Read(ref reader, data); }
                else if (reader.ValueTextEquals("offset"u8)) { reader.Read(); hasOffset = reader.TryGetInt64(out fields.Offset); }
                else if (reader.ValueTextEquals("epoch"u8)) { reader.Read(); fields.Epoch = Utf8Text.Read(ref reader, data); }
                else if (reader.ValueTextEquals("from"u8)) { reader.Read(); fields.From = Utf8Text.Read(ref reader, data); hasFrom = !fields.From.IsNull; }
                else if (reader.ValueTextEquals("payload"u8))
                {
                    reader.Read();
                    fields.PayloadStart = (int)reader.TokenStartIndex;
                    reader.Skip();
                    fields.PayloadLength = (int)reader.BytesConsumed - fields.PayloadStart;
                    hasPayload = true;
                }
                else { reader.Read(); reader.Skip(); }
            }
            return hasOffset && hasPayload && hasFrom;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary><c>direct</c> data: the sender and the payload's range.</summary>
    public static bool TryReadDirect(ReadOnlySpan<byte> data, out Utf8Text from, out int payloadStart, out int payloadLength)
    {
        from = default;
        payloadStart = payloadLength = 0;
        var hasPayload = false;
        var hasFrom = false;
        try
        {
            var reader = new Utf8JsonReader(data);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("from"u8)) { reader.Read(); from = Utf8Text.Read(ref reader, data); hasFrom = !from.IsNull; }
                else if (reader.ValueTextEquals("payload"u8))
                {
                    reader.Read();
                    payloadStart = (int)reader.TokenStartIndex;
                    reader.Skip();
                    payloadLength = (int)reader.BytesConsumed - payloadStart;
                    hasPayload = true;
                }
                else { reader.Read(); reader.Skip(); }
            }
            return hasPayload && hasFrom;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>The first number in an object (<c>ack</c>'s offset or delivered, <c>refreshed</c>'s expiresAt).</summary>
    public static long ReadNumber(ReadOnlySpan<byte> data, ReadOnlySpan<byte> name)
    {
        if (data.IsEmpty) return 0;
        try
        {
            var reader = new Utf8JsonReader(data);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return 0;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var match = reader.ValueTextEquals(name);
                reader.Read();
                if (match && reader.TryGetInt64(out var value)) return value;
                reader.Skip();
            }
        }
        catch (JsonException) { }
        return 0;
    }

    /// <summary>A top-level string property: its raw UTF-8 when unescaped, else decoded. False when absent or not a string.</summary>
    public static bool TryReadString(ReadOnlySpan<byte> data, ReadOnlySpan<byte> name, out ReadOnlySpan<byte> raw, out string? decoded)
    {
        raw = default;
        decoded = null;
        if (data.IsEmpty) return false;
        try
        {
            var reader = new Utf8JsonReader(data);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var match = reader.ValueTextEquals(name);
                reader.Read();
                if (match && reader.TokenType == JsonTokenType.String)
                {
                    if (reader.ValueIsEscaped || reader.HasValueSequence) decoded = reader.GetString();
                    else raw = data.Slice((int)reader.TokenStartIndex + 1, reader.ValueSpan.Length);
                    return true;
                }
                reader.Skip();
            }
        }
        catch (JsonException) { }
        return false;
    }

    /// <summary>Parses the rarer frames into an element (welcome, joined, presence, error).</summary>
    public static JsonElement Element(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty) return default;
        var reader = new Utf8JsonReader(data);
        return JsonElement.ParseValue(ref reader);
    }

    public static string? String(JsonElement obj, string name) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    public static long Number(JsonElement obj, string name) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var n) ? n : 0;

    public static bool Bool(JsonElement obj, string name) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.True;
}
