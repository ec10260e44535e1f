using System.Text.Json;

namespace Broker.Contracts.Protocol;

/// <summary>The outcome of parsing one inbound frame: exactly one of a command or an error.</summary>
public readonly record struct FrameParseResult(ClientCommand? Command, ProtocolError? Error)
{
    public static FrameParseResult Ok(ClientCommand command) => new(command, null);
    public static FrameParseResult Fail(string message, string? id = null) =>
        new(null, new ProtocolError(ErrorCodes.BadRequest, message, id));
}

/// <summary>
/// Turns one inbound text frame into a typed <see cref="ClientCommand"/>, or into a precise
/// <c>bad_request</c> error. Never throws on client input.
/// </summary>
public static class FrameParser
{
    /// <summary>Longest correlation id a client may send (PROTOCOL §3).</summary>
    public const int MaxIdLength = 64;
    /// <summary>Longest room name (PROTOCOL §3: <c>^[A-Za-z0-9_.:-]{1,128}$</c>).</summary>
    public const int MaxRoomLength = 128;
    /// <summary>Longest user id accepted as a <c>send</c> target.</summary>
    public const int MaxUserLength = 256;

    /// <summary>Longest <c>idempotencyKey</c> of a publish (PROTOCOL §9.2).</summary>
    public const int MaxIdempotencyKeyLength = 64;

    /// <summary>An idempotency key is a string of 1 to <see cref="MaxIdempotencyKeyLength"/> characters.</summary>
    public static bool IsValidIdempotencyKey(string key) => key.Length is > 0 and <= MaxIdempotencyKeyLength;

    private static readonly BrokerJsonContext Json = BrokerJsonContext.Default;

    public static FrameParseResult Parse(ReadOnlySpan<byte> utf8) => Parse(utf8, null);

    /// <summary>
    /// Parses like <see cref="Parse(ReadOnlySpan{byte})"/>; a type that is not built in but is in
    /// <paramref name="customTypes"/> becomes a <see cref="CustomCommand"/> instead of <c>bad_request</c>.
    /// Built-in types are matched first, so they can never be taken over.
    /// </summary>
    public static FrameParseResult Parse(ReadOnlySpan<byte> utf8, IReadOnlySet<string>? customTypes)
    {
        // Valid JSON can still escape a lone surrogate ("\ud800"), which no string can hold:
        // reading it would throw, and forwarding it would hand every other member a frame their
        // parsers may refuse. Refused first, before anything reads a string (issue #15).
        // The common frame, a publish, in one pass without a document; anything it is unsure of,
        // and every other type, takes the full parse below, which owns every rule and message.
        if (PublishFrameReader.TryRead(utf8) is { } publish) return FrameParseResult.Ok(publish);
        return ParseWithDocument(utf8, customTypes);
    }

    /// <summary>The full parse, through a <see cref="JsonDocument"/>: every type, every rule, every error message.</summary>
    internal static FrameParseResult ParseWithDocument(ReadOnlySpan<byte> utf8, IReadOnlySet<string>? customTypes)
    {
        if (!EscapesAreValidUtf16(utf8))
            return FrameParseResult.Fail("strings must be valid UTF-16: an escape is a lone surrogate");
        InboundEnvelope? envelope;
        try
        {
            envelope = JsonSerializer.Deserialize(utf8, Json.InboundEnvelope);
        }
        catch (JsonException)
        {
            return FrameParseResult.Fail(IsObject(utf8)
                ? "malformed JSON, or a property named twice"
                : "a frame must be a JSON object with a type");
        }
        if (envelope is null)
            return FrameParseResult.Fail("a frame must be a JSON object {\"type\":…,\"id\":…,\"data\":…}");

        string? id = null;
        switch (envelope.Id.ValueKind)
        {
            case JsonValueKind.Undefined or JsonValueKind.Null:
                break;
            case JsonValueKind.String:
                id = envelope.Id.GetString()!;
                if (id.Length > MaxIdLength)
                    return FrameParseResult.Fail($"id must be a string of at most {MaxIdLength} characters");
                break;
            default:
                return FrameParseResult.Fail($"id must be a string of at most {MaxIdLength} characters");
        }

        if (envelope.Type.ValueKind != JsonValueKind.String)
            return FrameParseResult.Fail(envelope.Type.ValueKind == JsonValueKind.Undefined
                ? "missing type"
                : "type must be a string", id);

        var data = envelope.Data;
        try
        {
            return envelope.Type.GetString() switch
            {
                FrameTypes.Auth => ParseAuth(id, data),
                FrameTypes.Join => ParseJoin(id, data),
                FrameTypes.Leave => ParseLeave(id, data),
                FrameTypes.Publish => ParsePublish(id, data),
                FrameTypes.Send => ParseSend(id, data),
                FrameTypes.Ping => FrameParseResult.Ok(new PingCommand(id)),
                FrameTypes.Pong => FrameParseResult.Ok(new PongCommand(id)),
                var other when customTypes is not null && customTypes.Contains(other!) =>
                    FrameParseResult.Ok(new CustomCommand(id, other!, data)),
                var other => FrameParseResult.Fail($"unknown type '{Truncate(other!)}'", id),
            };
        }
        catch (JsonException)
        {
            return FrameParseResult.Fail($"data has the wrong shape for '{envelope.Type.GetString()}' (or names a property twice)", id);
        }
    }

    private static FrameParseResult ParseAuth(string? id, JsonElement data)
    {
        if (!IsObject(data)) return FrameParseResult.Fail("auth needs data {\"token\":\"…\"}", id);
        var auth = data.Deserialize(Json.AuthData)!;
        return string.IsNullOrEmpty(auth.Token)
            ? FrameParseResult.Fail("auth needs data {\"token\":\"…\"}", id)
            : FrameParseResult.Ok(new AuthCommand(id, auth.Token));
    }

    private static FrameParseResult ParseJoin(string? id, JsonElement data)
    {
        if (!IsObject(data)) return FrameParseResult.Fail("join needs data {\"room\":\"…\"}", id);
        var join = data.Deserialize(Json.JoinData)!;
        if (RoomError(join.Room) is { } roomError) return FrameParseResult.Fail(roomError, id);
        RecoveryPosition? since = null;
        if (join.Since is { } s)
        {
            if (s.Epoch is null || s.Offset is not { } offset || offset < 0)
                return FrameParseResult.Fail("since needs {\"epoch\":\"…\",\"offset\":n} with n ≥ 0", id);
            since = new RecoveryPosition(s.Epoch, offset);
        }
        return FrameParseResult.Ok(new JoinCommand(id, join.Room!, since));
    }

    private static FrameParseResult ParseLeave(string? id, JsonElement data)
    {
        if (!IsObject(data)) return FrameParseResult.Fail("leave needs data {\"room\":\"…\"}", id);
        var leave = data.Deserialize(Json.LeaveData)!;
        return RoomError(leave.Room) is { } roomError
            ? FrameParseResult.Fail(roomError, id)
            : FrameParseResult.Ok(new LeaveCommand(id, leave.Room!));
    }

    private static FrameParseResult ParsePublish(string? id, JsonElement data)
    {
        if (!IsObject(data)) return FrameParseResult.Fail("publish needs data {\"room\":\"…\",\"payload\":…}", id);
        var publish = data.Deserialize(Json.PublishData)!;
        if (publish.Room is not null && RoomError(publish.Room) is { } roomError)
            return FrameParseResult.Fail(roomError, id);
        if (publish.Payload.ValueKind == JsonValueKind.Undefined)
            return FrameParseResult.Fail("publish needs a payload", id);
        if (publish.IdempotencyKey is { } key && !IsValidIdempotencyKey(key))
            return FrameParseResult.Fail($"idempotencyKey must be a string of 1 to {MaxIdempotencyKeyLength} characters", id);
        return FrameParseResult.Ok(new PublishCommand(id, publish.Room, ServerFrames.RawJson(publish.Payload), publish.ExcludeSelf ?? false, publish.IdempotencyKey));
    }

    private static FrameParseResult ParseSend(string? id, JsonElement data)
    {
        if (!IsObject(data)) return FrameParseResult.Fail("send needs data {\"user\":\"…\",\"payload\":…}", id);
        var send = data.Deserialize(Json.SendData)!;
        if (string.IsNullOrEmpty(send.User) || send.User.Length > MaxUserLength)
            return FrameParseResult.Fail($"send needs a user id of 1 to {MaxUserLength} characters", id);
        if (send.Payload.ValueKind == JsonValueKind.Undefined)
            return FrameParseResult.Fail("send needs a payload", id);
        return FrameParseResult.Ok(new SendCommand(id, send.User, send.Payload));
    }

    /// <summary>Null when <paramref name="room"/> is a valid room name, else why not.</summary>
    public static string? RoomError(string? room)
    {
        if (room is null) return "room is required";
        if (!IsValidRoom(room)) return "room must match ^[A-Za-z0-9_.:-]{1,128}$";
        return null;
    }

    /// <summary>Whether <paramref name="room"/> matches <c>^[A-Za-z0-9_.:-]{1,128}$</c>.</summary>
    public static bool IsValidRoom(string room)
    {
        if (room.Length is 0 or > MaxRoomLength) return false;
        foreach (var c in room)
        {
            var ok = c is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9' or '_' or '.' or ':' or '-';
            if (!ok) return false;
        }
        return true;
    }

    /// <summary>Longest application-defined frame type.</summary>
    public const int MaxCustomTypeLength = 64;

    /// <summary>
    /// Null when <paramref name="type"/> may name an application-defined frame type: 1 to 64 of
    /// <c>a-z 0-9 _ . : -</c>, starting with a letter, and not a type of PROTOCOL §3 (either direction).
    /// </summary>
    public static string? CustomTypeError(string? type)
    {
        if (string.IsNullOrEmpty(type) || type.Length > MaxCustomTypeLength)
            return $"a message type is 1 to {MaxCustomTypeLength} characters";
        if (type[0] is < 'a' or > 'z')
            return "a message type starts with a lowercase letter";
        foreach (var c in type)
        {
            var ok = c is >= 'a' and <= 'z' or >= '0' and <= '9' or '_' or '.' or ':' or '-';
            if (!ok) return "a message type may contain only a-z 0-9 _ . : -";
        }
        return IsBuiltInType(type) ? $"'{type}' is a built-in frame type (PROTOCOL §3) and cannot be overridden" : null;
    }

    /// <summary>Whether <paramref name="type"/> is one of the protocol's own frame types, in either direction.</summary>
    public static bool IsBuiltInType(string type) => type is
        FrameTypes.Auth or FrameTypes.Join or FrameTypes.Leave or FrameTypes.Publish or FrameTypes.Send or FrameTypes.Ping or FrameTypes.Pong or
        FrameTypes.Welcome or FrameTypes.Refreshed or FrameTypes.Joined or FrameTypes.Left or FrameTypes.Ack or FrameTypes.Message or
        FrameTypes.Direct or FrameTypes.Presence or FrameTypes.Occupancy or FrameTypes.Error;

    private static bool IsObject(JsonElement data) => data.ValueKind == JsonValueKind.Object;

    /// <summary>
    /// Whether every escaped string or property name in <paramref name="utf8"/> decodes to valid
    /// UTF-16. Unescaped text is valid already (the transport checked the UTF-8); only escapes
    /// can encode a lone surrogate, so strings without one cost a flag check. Malformed JSON
    /// passes here, to get the deserializer's more precise answer.
    /// </summary>
    private static bool EscapesAreValidUtf16(ReadOnlySpan<byte> utf8)
    {
        var reader = new Utf8JsonReader(utf8);
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType is JsonTokenType.String or JsonTokenType.PropertyName && reader.ValueIsEscaped)
                {
                    try
                    {
                        _ = reader.GetString();
                    }
                    catch (InvalidOperationException)
                    {
                        return false; // an escape no string can hold
                    }
                }
            }
            return true;
        }
        catch (JsonException)
        {
            return true; // not JSON at all: malformed, not a surrogate problem
        }
    }

    private static bool IsObject(ReadOnlySpan<byte> utf8)
    {
        var trimmed = utf8.TrimStart(" \t\r\n"u8);
        return trimmed.Length > 0 && trimmed[0] == (byte)'{';
    }

    private static string Truncate(string s) => s.Length <= 32 ? s : s[..32] + "…";
}
