using System.Buffers;
using System.Text.Json;
using Broker.Contracts.Protocol;

namespace Broker.AspNetCore.Sse;

/// <summary>
/// How a server frame becomes a Server-Sent Event (PROTOCOL §9.4): <c>data: &lt;envelope&gt;</c> and a
/// blank line, no <c>event:</c> field, so a plain <c>EventSource</c>'s <c>onmessage</c> sees every
/// frame. The end of a stream the broker chose is one more event, <see cref="CloseType"/>, carrying
/// what a WebSocket close frame would.
/// </summary>
public static class SseEvents
{
    /// <summary>
    /// The type of the last event of a stream the broker ended: <c>{"type":"close","data":{"code":4508,"reason":"slow consumer"}}</c>.
    /// The code's range means what it means on WebSocket (PROTOCOL §6): whether to reconnect.
    /// </summary>
    public const string CloseType = "close";

    /// <summary>The media type of the stream, and what the GET's <c>Accept</c> must name.</summary>
    public const string MediaType = "text/event-stream";

    /// <summary>
    /// Writes one frame as one event. A frame's JSON may hold raw line breaks between tokens (a
    /// payload is forwarded as the publisher wrote it), and SSE ends a field at any CR or LF: each
    /// line becomes its own <c>data:</c> field, which the client joins with LF, so the event's data
    /// is the same JSON (whitespace outside strings aside; inside a string a raw break is not JSON).
    /// </summary>
    public static void WriteFrame(IBufferWriter<byte> writer, ReadOnlySpan<byte> frame)
    {
        while (true)
        {
            writer.Write("data: "u8);
            var lineEnd = frame.IndexOfAny((byte)'\r', (byte)'\n');
            if (lineEnd < 0)
            {
                writer.Write(frame);
                break;
            }
            writer.Write(frame[..lineEnd]);
            writer.Write("\n"u8);
            var crlf = frame[lineEnd] == (byte)'\r' && lineEnd + 1 < frame.Length && frame[lineEnd + 1] == (byte)'\n';
            frame = frame[(lineEnd + (crlf ? 2 : 1))..];
        }
        writer.Write("\n\n"u8);
    }

    /// <summary>The frame of the last event of a stream the broker ended with <paramref name="close"/>.</summary>
    public static byte[] CloseFrame(Close close)
    {
        var buffer = new ArrayBufferWriter<byte>(64);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("type"u8, CloseType);
            json.WriteStartObject("data"u8);
            json.WriteNumber("code"u8, close.Code);
            json.WriteString("reason"u8, close.Reason);
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }
}
