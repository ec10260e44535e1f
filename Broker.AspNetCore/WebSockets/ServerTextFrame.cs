using System.Buffers.Binary;

namespace Broker.AspNetCore.WebSockets;

/// <summary>
/// The bytes of one whole text message as a server sends it (RFC 6455 §5.2): FIN and the text
/// opcode, no mask (servers never mask), the payload length in 1, 3 or 9 bytes, then the payload.
/// Exactly what <c>ManagedWebSocket.SendAsync</c> writes for an uncompressed, final text frame, so
/// a batch can be written into the cork buffer without a send per frame.
/// </summary>
public static class ServerTextFrame
{
    private const byte FinText = 0x81;

    /// <summary>The header's length for a payload of <paramref name="payloadLength"/> bytes.</summary>
    public static int HeaderLength(int payloadLength) => payloadLength switch
    {
        <= 125 => 2,
        <= ushort.MaxValue => 4,
        _ => 10,
    };

    /// <summary>Writes header and payload into <paramref name="destination"/>; returns the bytes written.</summary>
    public static int Write(Span<byte> destination, ReadOnlySpan<byte> payload)
    {
        destination[0] = FinText;
        int header;
        if (payload.Length <= 125)
        {
            destination[1] = (byte)payload.Length;
            header = 2;
        }
        else if (payload.Length <= ushort.MaxValue)
        {
            destination[1] = 126;
            BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)payload.Length);
            header = 4;
        }
        else
        {
            destination[1] = 127;
            BinaryPrimitives.WriteUInt64BigEndian(destination[2..], (ulong)payload.Length);
            header = 10;
        }
        payload.CopyTo(destination[header..]);
        return header + payload.Length;
    }
}
