using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Broker.Contracts.Protocol;

namespace Broker.Actors.Handlers;

/// <summary>
/// What a custom message handler answers: a frame of an application-defined type with optional
/// <c>data</c>, or a protocol <c>error</c>. The connection adds the request's <c>id</c>.
/// </summary>
public sealed class HandlerReply
{
    private HandlerReply(string type, byte[] data, string? errorCode, string? errorMessage)
    {
        Type = type;
        Data = data;
        ErrorCode = errorCode;
        ErrorMessage = errorMessage;
    }

    /// <summary>The reply's <c>type</c>; <c>error</c> for <see cref="Error"/> replies.</summary>
    public string Type { get; }

    /// <summary>The reply's <c>data</c> as raw UTF-8 JSON; empty when the reply has none.</summary>
    public byte[] Data { get; }

    /// <summary>The <c>error</c> code, for error replies.</summary>
    public string? ErrorCode { get; }

    /// <summary>The <c>error</c> message, for error replies.</summary>
    public string? ErrorMessage { get; }

    /// <summary>A reply of <paramref name="type"/> (application-defined, e.g. <c>order.status</c>) carrying <paramref name="data"/>.</summary>
    /// <exception cref="ArgumentException">The type is not a valid custom type name, or is a built-in one.</exception>
    public static HandlerReply Of(string type, JsonElement data) =>
        new(ValidType(type), data.ValueKind == JsonValueKind.Undefined ? [] : ServerFrames.RawJson(data), null, null);

    /// <summary>A reply of <paramref name="type"/> carrying <paramref name="data"/> serialized with <paramref name="typeInfo"/> (trim/AOT safe).</summary>
    public static HandlerReply Of<T>(string type, T data, JsonTypeInfo<T> typeInfo) =>
        new(ValidType(type), JsonSerializer.SerializeToUtf8Bytes(data, typeInfo), null, null);

    /// <summary>A reply of <paramref name="type"/> without <c>data</c>.</summary>
    public static HandlerReply Of(string type) => new(ValidType(type), [], null, null);

    /// <summary>An <c>error</c> frame, e.g. <c>Error(ErrorCodes.NotFound, "no such order")</c>. Codes are those of PROTOCOL §3.</summary>
    /// <exception cref="ArgumentException"><paramref name="code"/> is not one of <see cref="ErrorCodes"/>.</exception>
    public static HandlerReply Error(string code, string message)
    {
        if (code is not (ErrorCodes.BadRequest or ErrorCodes.Unauthorized or ErrorCodes.Forbidden or ErrorCodes.NotFound
            or ErrorCodes.TooLarge or ErrorCodes.RateLimited or ErrorCodes.Internal))
            throw new ArgumentException($"'{code}' is not an error code of PROTOCOL §3", nameof(code));
        ArgumentNullException.ThrowIfNull(message);
        return new HandlerReply(FrameTypes.Error, [], code, message);
    }

    /// <summary>The frame for the wire, with the request's <paramref name="id"/>.</summary>
    public byte[] ToFrame(string? id) => ErrorCode is { } code
        ? ServerFrames.Error(id, code, ErrorMessage!)
        : ServerFrames.Custom(Type, id, Data);

    private static string ValidType(string type) =>
        FrameParser.CustomTypeError(type) is { } error ? throw new ArgumentException(error, nameof(type)) : type;
}
