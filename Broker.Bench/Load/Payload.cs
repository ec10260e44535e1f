using System.Buffers.Text;
using System.Text;

namespace Broker.Bench.Load;

/// <summary>
/// The benchmark payload, <c>{"p":publisher,"s":sequence,"t":intendedSendTimestamp,"x":"padding"}</c>:
/// enough for every subscriber to check order and completeness per publisher and to time
/// publish→deliver against the publisher's <em>intended</em> send time (Stopwatch ticks; the
/// load generator is one process, so one clock). Found in any server's frame by its marker.
/// </summary>
public static class Payload
{
    private static ReadOnlySpan<byte> Marker => "{\"p\":"u8;

    /// <summary>Writes the payload JSON into <paramref name="destination"/>; returns the length.</summary>
    public static int Write(Span<byte> destination, int publisher, long sequence, long timestamp, int padding)
    {
        var written = 0;
        Append(destination, ref written, Marker);
        Utf8Formatter.TryFormat(publisher, destination[written..], out var n); written += n;
        Append(destination, ref written, ",\"s\":"u8);
        Utf8Formatter.TryFormat(sequence, destination[written..], out n); written += n;
        Append(destination, ref written, ",\"t\":"u8);
        Utf8Formatter.TryFormat(timestamp, destination[written..], out n); written += n;
        Append(destination, ref written, ",\"x\":\""u8);
        destination.Slice(written, padding).Fill((byte)'x'); written += padding;
        Append(destination, ref written, "\"}"u8);
        return written;
    }

    /// <summary>Finds and reads a payload inside a frame; false when the frame carries none.</summary>
    public static bool TryRead(ReadOnlySpan<byte> frame, out int publisher, out long sequence, out long timestamp)
    {
        publisher = 0; sequence = 0; timestamp = 0;
        var at = frame.IndexOf(Marker);
        if (at < 0) return false;
        var rest = frame[(at + Marker.Length)..];
        if (!Utf8Parser.TryParse(rest, out publisher, out var n)) return false;
        rest = rest[(n + 5)..]; // ,"s":
        if (!Utf8Parser.TryParse(rest, out sequence, out n)) return false;
        rest = rest[(n + 5)..]; // ,"t":
        return Utf8Parser.TryParse(rest, out timestamp, out _);
    }

    /// <summary>Upper bound of the payload length, for buffer sizing.</summary>
    public static int MaxLength(int padding) => 80 + padding;

    private static void Append(Span<byte> destination, ref int written, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(destination[written..]);
        written += bytes.Length;
    }

    public static string Describe(int padding) => Encoding.UTF8.GetString(Marker) + "…\"x\":\"" + new string('x', Math.Min(padding, 3)) + "…\"}";
}
