using System.Buffers;
using System.Buffers.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Broker.Client.Internal;

/// <summary>
/// Writes client → server envelopes into one reused buffer. Owned by a connection and used only
/// under its send lock, so a frame costs no allocation beyond what the payload needs.
/// </summary>
internal sealed class FrameWriter
{
    private const int ShrinkAbove = 256 * 1024;

    private ArrayBufferWriter<byte> _buffer = new(1024);
    private Utf8JsonWriter _json;

    public FrameWriter() => _json = NewWriter(_buffer);

    /// <summary>Starts <c>{"type":…,"id":"…"</c>; the caller adds <c>data</c> and calls <see cref="End"/>.</summary>
    public Utf8JsonWriter Begin(string type, long id)
    {
        if (_buffer.Capacity > ShrinkAbove)
        {
            // A huge payload grew the buffer; let it go rather than pin it for the connection's life.
            _buffer = new ArrayBufferWriter<byte>(1024);
            _json = NewWriter(_buffer);
        }
        _buffer.ResetWrittenCount();
        _json.Reset(_buffer);
        _json.WriteStartObject();
        _json.WriteString("type"u8, type);
        if (id > 0)
        {
            Span<byte> digits = stackalloc byte[20];
            Utf8Formatter.TryFormat(id, digits, out var length);
            _json.WriteString("id"u8, digits[..length]);
        }
        return _json;
    }

    /// <summary>Closes the envelope; the frame is valid until the next <see cref="Begin"/>.</summary>
    public ReadOnlyMemory<byte> End()
    {
        _json.WriteEndObject();
        _json.Flush();
        return _buffer.WrittenMemory;
    }

    /// <summary>Closes the <c>data</c> object, then the envelope.</summary>
    public ReadOnlyMemory<byte> EndWithData()
    {
        _json.WriteEndObject();
        return End();
    }

    private static Utf8JsonWriter NewWriter(ArrayBufferWriter<byte> buffer) =>
        new(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
}
