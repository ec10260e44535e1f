using System.Text.Json;

namespace Broker.Contracts.Protocol;

/// <summary>
/// Reads a <c>publish</c> frame in one pass of a <see cref="Utf8JsonReader"/>, without building a
/// <see cref="JsonDocument"/>: the payload is kept as the frame's own bytes (the slice between its
/// first and last token), which is what the room forwards. docs/benchmarks.md named the DOM as the
/// next per-publish cost.
/// <para>
/// It only ever says yes to a frame <see cref="FrameParser"/>'s full parse accepts with the same
/// result: anything unusual (another type, a property name with an escape, a value of the wrong
/// kind, a property named twice, an escape no string can hold, more than
/// <see cref="MaxPropertiesPerObject"/> properties in one object, malformed JSON) makes it give up,
/// and the full parse then answers, with its precise error or its command. So every rule and
/// error message stays the full parser's, and the common frame takes the short way.
/// </para>
/// </summary>
internal static class PublishFrameReader
{
    /// <summary>
    /// Properties one object may have for this reader to check it for names given twice (by
    /// comparing each with those before it); a larger object goes to the full parse.
    /// </summary>
    public const int MaxPropertiesPerObject = 64;

    [ThreadStatic] private static NameScratch? t_names;

    /// <summary>A <c>publish</c> the full parse would accept just the same, or null: then the full parse decides.</summary>
    public static PublishCommand? TryRead(ReadOnlySpan<byte> utf8)
    {
        var names = t_names ??= new NameScratch();
        names.Reset();
        try
        {
            return Read(utf8, names);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // Malformed, deeper than the serializer allows, or an escape no string can hold (the
            // reader's ValueTextEquals throws on one): the full parse's error.
            return null;
        }
    }

    private static PublishCommand? Read(ReadOnlySpan<byte> utf8, NameScratch names)
    {
        var reader = new Utf8JsonReader(utf8); // the serializer's defaults: depth 64, no comments, no trailing commas
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return null;
        bool seenType = false, seenId = false, seenData = false;
        string? id = null;
        PublishCommand? data = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueIsEscaped) return null;
            if (reader.ValueTextEquals("type"u8))
            {
                if (seenType || !reader.Read() || reader.TokenType != JsonTokenType.String || !reader.ValueTextEquals(FrameTypes.Publish)) return null;
                seenType = true;
            }
            else if (reader.ValueTextEquals("id"u8))
            {
                if (seenId || !reader.Read()) return null;
                seenId = true;
                if (reader.TokenType == JsonTokenType.String)
                {
                    if (!TryGetString(ref reader, out id) || id.Length > FrameParser.MaxIdLength) return null;
                }
                else if (reader.TokenType != JsonTokenType.Null) return null;
            }
            else if (reader.ValueTextEquals("data"u8))
            {
                if (seenData || !reader.Read()) return null;
                seenData = true;
                data = ReadData(ref reader, utf8, names);
                if (data is null) return null;
            }
            else
            {
                // Not part of the envelope: the serializer skips it, unchecked for names given twice,
                // but the frame as a whole must not escape a lone surrogate anywhere.
                if (!reader.Read() || !Walk(ref reader, utf8, names, checkNames: false)) return null;
            }
        }
        if (reader.TokenType != JsonTokenType.EndObject || reader.Read()) return null; // anything after the object: the full parse's error
        if (!seenType || data is null) return null;
        return data with { Id = id };
    }

    /// <summary><c>data</c> of a publish, the reader on its first token; null when the full parse must look.</summary>
    private static PublishCommand? ReadData(ref Utf8JsonReader reader, ReadOnlySpan<byte> utf8, NameScratch names)
    {
        if (reader.TokenType != JsonTokenType.StartObject) return null;
        // Every object under data is checked for names given twice, as the serializer checks a JsonElement.
        names.Open();
        string? room = null, key = null;
        var excludeSelf = false;
        byte[]? payload = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueIsEscaped || !names.Add(utf8, ref reader)) return null;
            if (reader.ValueTextEquals("room"u8))
            {
                if (!reader.Read()) return null;
                if (reader.TokenType == JsonTokenType.String)
                {
                    if (!TryGetString(ref reader, out room) || !FrameParser.IsValidRoom(room)) return null;
                }
                else if (reader.TokenType != JsonTokenType.Null) return null;
            }
            else if (reader.ValueTextEquals("payload"u8))
            {
                if (!reader.Read()) return null;
                var start = (int)reader.TokenStartIndex;
                if (!Walk(ref reader, utf8, names, checkNames: true)) return null;
                payload = utf8[start..(int)reader.BytesConsumed].ToArray();
            }
            else if (reader.ValueTextEquals("excludeSelf"u8))
            {
                if (!reader.Read()) return null;
                switch (reader.TokenType)
                {
                    case JsonTokenType.True: excludeSelf = true; break;
                    case JsonTokenType.False or JsonTokenType.Null: excludeSelf = false; break;
                    default: return null;
                }
            }
            else if (reader.ValueTextEquals("idempotencyKey"u8))
            {
                if (!reader.Read()) return null;
                if (reader.TokenType == JsonTokenType.String)
                {
                    if (!TryGetString(ref reader, out key) || !FrameParser.IsValidIdempotencyKey(key)) return null;
                }
                else if (reader.TokenType != JsonTokenType.Null) return null;
            }
            else if (!reader.Read() || !Walk(ref reader, utf8, names, checkNames: true)) return null;
        }
        names.Close();
        if (reader.TokenType != JsonTokenType.EndObject || payload is null) return null;
        return new PublishCommand(null, room, payload, excludeSelf, key);
    }

    /// <summary>
    /// Reads past one value (the reader on its first token, left on its last), checking every
    /// string on the way can be a string and, when <paramref name="checkNames"/>, that no object
    /// names a property twice. False: the full parse must look.
    /// </summary>
    private static bool Walk(ref Utf8JsonReader reader, ReadOnlySpan<byte> utf8, NameScratch names, bool checkNames)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                return !reader.ValueIsEscaped || TryGetString(ref reader, out _);
            case JsonTokenType.StartObject or JsonTokenType.StartArray:
                break;
            default:
                return true; // a number, true, false or null: the reader has checked its syntax
        }
        var depth = reader.CurrentDepth;
        if (checkNames && reader.TokenType == JsonTokenType.StartObject) names.Open();
        while (reader.Read())
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.StartObject:
                    if (checkNames) names.Open();
                    break;
                case JsonTokenType.EndObject:
                    if (checkNames) names.Close();
                    if (reader.CurrentDepth == depth) return true;
                    break;
                case JsonTokenType.EndArray:
                    if (reader.CurrentDepth == depth) return true;
                    break;
                case JsonTokenType.PropertyName:
                    if (reader.ValueIsEscaped) return false;
                    if (checkNames && !names.Add(utf8, ref reader)) return false;
                    break;
                case JsonTokenType.String:
                    if (reader.ValueIsEscaped && !TryGetString(ref reader, out _)) return false;
                    break;
            }
        }
        return false;
    }

    /// <summary>The string value; false when an escape in it is a lone surrogate (no string can hold it).</summary>
    private static bool TryGetString(ref Utf8JsonReader reader, out string value)
    {
        try
        {
            value = reader.GetString()!;
            return true;
        }
        catch (InvalidOperationException)
        {
            value = "";
            return false;
        }
    }

    /// <summary>
    /// The property names of the objects open on the way down, as offsets into the frame (names
    /// with escapes never get here), to find a name given twice in one object. One per thread, reused.
    /// </summary>
    private sealed class NameScratch
    {
        private (int Start, int Length)[] _names = new (int, int)[32];
        private int[] _objectStarts = new int[8];
        private int _count, _depth;

        public void Reset() => _count = _depth = 0;

        public void Open()
        {
            if (_depth == _objectStarts.Length) Array.Resize(ref _objectStarts, _depth * 2);
            _objectStarts[_depth++] = _count;
        }

        public void Close() => _count = _objectStarts[--_depth];

        /// <summary>Records the reader's property name in the innermost open object; false when it is there already or the object is too large to check.</summary>
        public bool Add(ReadOnlySpan<byte> utf8, ref Utf8JsonReader reader)
        {
            var name = reader.ValueSpan;
            var first = _objectStarts[_depth - 1];
            if (_count - first >= MaxPropertiesPerObject) return false;
            for (var i = first; i < _count; i++)
            {
                var (start, length) = _names[i];
                if (length == name.Length && utf8.Slice(start, length).SequenceEqual(name)) return false;
            }
            if (_count == _names.Length) Array.Resize(ref _names, _count * 2);
            _names[_count++] = ((int)reader.TokenStartIndex + 1, name.Length); // past the opening quote
            return true;
        }
    }
}
