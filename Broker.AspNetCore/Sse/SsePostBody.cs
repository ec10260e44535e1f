using System.Text.Json;

namespace Broker.AspNetCore.Sse;

/// <summary>
/// Splits a POST body into the envelopes it carries: one JSON value, or a non-empty JSON array of
/// them. Only the body's shape is judged here; each envelope then goes through the same parser as
/// a WebSocket frame, so a bad envelope gets an <c>error</c> event with its id, as on WebSocket.
/// </summary>
public static class SsePostBody
{
    /// <summary>The outcome: the envelopes, or why the body is refused (400) and the error code.</summary>
    public readonly record struct Result(IReadOnlyList<byte[]>? Envelopes, string? Error, string? Code);

    /// <param name="maxEnvelopeBytes"><c>Broker:Limits:MaxMessageBytes</c>: the WebSocket frame limit, per envelope.</param>
    /// <param name="maxEnvelopes"><c>Broker:Sse:MaxPostEnvelopes</c>.</param>
    public static Result Split(ReadOnlySpan<byte> body, int maxEnvelopeBytes, int maxEnvelopes)
    {
        // Depth is the frame parser's to judge (it answers bad_request with the id); this only has to reach the envelopes.
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 1024 });
        var envelopes = new List<byte[]>();
        try
        {
            if (!reader.Read()) return Refuse("the body is empty; send one envelope or a JSON array of envelopes");
            if (reader.TokenType == JsonTokenType.StartArray)
            {
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (envelopes.Count == maxEnvelopes)
                        return Refuse($"at most {maxEnvelopes} envelopes per POST", Contracts.Protocol.ErrorCodes.TooLarge);
                    var envelope = Take(ref reader, body);
                    if (envelope.Length > maxEnvelopeBytes)
                        return Refuse($"envelope {envelopes.Count} is over {maxEnvelopeBytes} bytes", Contracts.Protocol.ErrorCodes.TooLarge);
                    envelopes.Add(envelope);
                }
                if (envelopes.Count == 0) return Refuse("the array is empty; send at least one envelope");
            }
            else
            {
                var envelope = Take(ref reader, body);
                if (envelope.Length > maxEnvelopeBytes)
                    return Refuse($"the envelope is over {maxEnvelopeBytes} bytes", Contracts.Protocol.ErrorCodes.TooLarge);
                envelopes.Add(envelope);
            }
            // Anything after the value but whitespace is not JSON (the reader throws).
            if (reader.Read()) return Refuse("the body holds more than one JSON value; wrap envelopes in an array");
        }
        catch (JsonException)
        {
            return Refuse("the body is not JSON; send one envelope or a JSON array of envelopes");
        }
        return new Result(envelopes, null, null);
    }

    /// <summary>The bytes of the value the reader is on, as the client wrote them.</summary>
    private static byte[] Take(ref Utf8JsonReader reader, ReadOnlySpan<byte> body)
    {
        var start = (int)reader.TokenStartIndex;
        reader.Skip(); // to the value's last token (a no-op for a string or number)
        return body[start..(int)reader.BytesConsumed].ToArray();
    }

    private static Result Refuse(string error, string code = Contracts.Protocol.ErrorCodes.BadRequest) => new(null, error, code);
}
