using System.Buffers.Binary;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Broker.Tests.Infrastructure;

/// <summary>One frame as read off the wire.</summary>
public sealed record RawFrame(bool Fin, byte Opcode, byte[] Payload)
{
    public const byte Continuation = 0x0, Text = 0x1, Binary = 0x2, Close = 0x8, Ping = 0x9, Pong = 0xA;

    /// <summary>The close code of a close frame (null when it has none).</summary>
    public int? CloseCode => Opcode == Close && Payload.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(Payload) : null;

    public string CloseReason => Opcode == Close && Payload.Length > 2 ? Encoding.UTF8.GetString(Payload, 2, Payload.Length - 2) : "";
}

/// <summary>
/// A WebSocket client written against RFC 6455 byte by byte, for the adversarial table: unlike
/// <see cref="System.Net.WebSockets.ClientWebSocket"/> it can send what no well-behaved client
/// would (unmasked frames, reserved bits and opcodes, oversized or fragmented control frames,
/// lying lengths) and read exactly what the server answers.
/// </summary>
public sealed class RawWebSocket : IAsyncDisposable
{
    private static readonly TimeSpan DefaultTimeout = TestClient.DefaultTimeout;

    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;

    private RawWebSocket(TcpClient tcp, int status, string responseHead)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
        HandshakeStatus = status;
        ResponseHead = responseHead;
    }

    /// <summary>The HTTP status of the handshake: 101 when upgraded.</summary>
    public int HandshakeStatus { get; }

    /// <summary>The response's status line and headers.</summary>
    public string ResponseHead { get; }

    /// <summary>Opens a TCP connection and sends an upgrade request for <paramref name="pathAndQuery"/>.</summary>
    public static async Task<RawWebSocket> ConnectAsync(Uri baseUri, string pathAndQuery, string? origin = null, IEnumerable<string>? extraHeaders = null)
    {
        var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(baseUri.Host, baseUri.Port).WaitAsync(DefaultTimeout);
        var stream = tcp.GetStream();
        var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
        var request = new StringBuilder()
            .Append($"GET {pathAndQuery} HTTP/1.1\r\n")
            .Append($"Host: {baseUri.Authority}\r\n")
            .Append("Upgrade: websocket\r\nConnection: Upgrade\r\n")
            .Append($"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n");
        if (origin is not null) request.Append($"Origin: {origin}\r\n");
        foreach (var header in extraHeaders ?? []) request.Append(header).Append("\r\n");
        request.Append("\r\n");
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request.ToString()));

        // Read the response head byte by byte: frames may follow it in the same segment.
        var head = new List<byte>();
        var one = new byte[1];
        using var deadline = new CancellationTokenSource(DefaultTimeout);
        while (!(head.Count >= 4 && head[^4] == '\r' && head[^3] == '\n' && head[^2] == '\r' && head[^1] == '\n'))
        {
            if (await stream.ReadAsync(one, deadline.Token) == 0) break;
            head.Add(one[0]);
        }
        var text = Encoding.ASCII.GetString(head.ToArray());
        var status = text.Length > 12 && int.TryParse(text.AsSpan(9, 3), out var s) ? s : 0;
        return new RawWebSocket(tcp, status, text);
    }

    /// <summary>Connects to <c>/ws/{route}</c>, sends <c>auth</c> with <paramref name="token"/>, and returns after <c>welcome</c>.</summary>
    public static async Task<RawWebSocket> ConnectAuthenticatedAsync(Uri baseUri, string token, string route = "chat")
    {
        var socket = await ConnectAsync(baseUri, $"/ws/{route}");
        if (socket.HandshakeStatus != 101) throw new InvalidOperationException("handshake refused: " + socket.ResponseHead);
        await socket.SendTextAsync(JsonSerializer.Serialize(new { type = "auth", data = new { token } }));
        var welcome = await socket.ReceiveEnvelopeAsync();
        if (welcome.GetProperty("type").GetString() != "welcome") throw new InvalidOperationException("no welcome: " + welcome);
        return socket;
    }

    public Task SendTextAsync(string text) => SendFrameAsync(RawFrame.Text, Encoding.UTF8.GetBytes(text));

    /// <summary>
    /// Writes one frame exactly as described: <paramref name="rsv"/> goes into bits 4–6 of the
    /// first byte, <paramref name="declaredLength"/> (when set) replaces the true payload length
    /// in the header, and <paramref name="masked"/> false leaves the payload unmasked.
    /// </summary>
    public async Task SendFrameAsync(byte opcode, ReadOnlyMemory<byte> payload, bool fin = true, bool masked = true, byte rsv = 0, ulong? declaredLength = null)
    {
        var length = declaredLength ?? (ulong)payload.Length;
        var header = new List<byte> { (byte)((fin ? 0x80 : 0) | ((rsv & 0x7) << 4) | (opcode & 0x0F)) };
        var maskBit = masked ? 0x80 : 0;
        if (length < 126) header.Add((byte)(maskBit | (int)length));
        else if (length <= ushort.MaxValue)
        {
            header.Add((byte)(maskBit | 126));
            header.Add((byte)(length >> 8));
            header.Add((byte)length);
        }
        else
        {
            header.Add((byte)(maskBit | 127));
            for (var i = 7; i >= 0; i--) header.Add((byte)(length >> (8 * i)));
        }
        var body = payload.ToArray();
        if (masked)
        {
            var mask = RandomNumberGenerator.GetBytes(4);
            header.AddRange(mask);
            for (var i = 0; i < body.Length; i++) body[i] ^= mask[i % 4];
        }
        await _stream.WriteAsync(header.ToArray());
        await _stream.WriteAsync(body);
        await _stream.FlushAsync();
    }

    /// <summary>The next frame from the server; null when the connection ended without one.</summary>
    public async Task<RawFrame?> ReceiveFrameAsync(TimeSpan? timeout = null)
    {
        using var deadline = new CancellationTokenSource(timeout ?? DefaultTimeout);
        try
        {
            var head = await ReadExactlyAsync(2, deadline.Token);
            if (head is null) return null;
            var fin = (head[0] & 0x80) != 0;
            var opcode = (byte)(head[0] & 0x0F);
            ulong length = (ulong)(head[1] & 0x7F);
            if (length == 126) length = BinaryPrimitives.ReadUInt16BigEndian(await ReadExactlyAsync(2, deadline.Token) ?? new byte[2]);
            else if (length == 127) length = BinaryPrimitives.ReadUInt64BigEndian(await ReadExactlyAsync(8, deadline.Token) ?? new byte[8]);
            var payload = length == 0 ? [] : await ReadExactlyAsync(checked((int)length), deadline.Token);
            return payload is null ? null : new RawFrame(fin, opcode, payload);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            return null; // reset by the server
        }
    }

    /// <summary>The next text frame's envelope, answering server pings on the way.</summary>
    public async Task<JsonElement> ReceiveEnvelopeAsync(TimeSpan? timeout = null)
    {
        while (true)
        {
            var frame = await ReceiveFrameAsync(timeout) ?? throw new InvalidOperationException("connection ended before an envelope");
            if (frame.Opcode == RawFrame.Close) throw new InvalidOperationException($"closed {frame.CloseCode} '{frame.CloseReason}' before an envelope");
            if (frame.Opcode != RawFrame.Text) continue;
            var envelope = JsonDocument.Parse(frame.Payload).RootElement.Clone();
            if (envelope.GetProperty("type").GetString() == "ping")
            {
                await SendTextAsync("""{"type":"pong"}""");
                continue;
            }
            return envelope;
        }
    }

    /// <summary>Reads until the server's close frame and returns it (null when the connection ended without one).</summary>
    public async Task<RawFrame?> ExpectCloseAsync(TimeSpan? timeout = null)
    {
        while (true)
        {
            var frame = await ReceiveFrameAsync(timeout);
            if (frame is null || frame.Opcode == RawFrame.Close) return frame;
        }
    }

    private async Task<byte[]?> ReadExactlyAsync(int count, CancellationToken cancellationToken)
    {
        var buffer = new byte[count];
        var read = 0;
        while (read < count)
        {
            var n = await _stream.ReadAsync(buffer.AsMemory(read), cancellationToken);
            if (n == 0) return null;
            read += n;
        }
        return buffer;
    }

    public ValueTask DisposeAsync()
    {
        _tcp.Dispose();
        return ValueTask.CompletedTask;
    }
}
