using System.Text;
using Broker.Bench.Infra;

namespace Broker.Bench.Load;

/// <summary>
/// How the lean client speaks to each server: the broker's protocol (PROTOCOL.md; the raw
/// baseline speaks the same frames) or SignalR's JSON hub protocol over a plain WebSocket
/// (handshake, invocations, records ended by 0x1E). One client design for all three servers, so
/// the comparison measures servers, not client libraries.
/// </summary>
public sealed class Dialect
{
    private const byte RecordSeparator = 0x1E;

    private Dialect(ServerKind kind) => Kind = kind;

    public ServerKind Kind { get; }
    public bool IsSignalR => Kind == ServerKind.SignalR;

    public static Dialect For(ServerKind kind) => new(kind);

    /// <summary>The URI to connect to (SignalR carries the token in the query, as its clients do).</summary>
    public Uri ConnectUri(Uri endpoint, string token) =>
        IsSignalR ? new Uri(endpoint + "?access_token=" + Uri.EscapeDataString(token)) : endpoint;

    /// <summary>The first frame: the broker's <c>auth</c>, or SignalR's protocol handshake.</summary>
    public byte[] Hello(string token) => IsSignalR
        ? Encoding.UTF8.GetBytes("{\"protocol\":\"json\",\"version\":1}\u001e")
        : Encoding.UTF8.GetBytes($$$"""{"type":"auth","data":{"token":"{{{token}}}"}}""");

    /// <summary>True for the answer to <see cref="Hello"/>.</summary>
    public bool IsWelcome(ReadOnlySpan<byte> frame) => IsSignalR
        ? frame.StartsWith("{}"u8)
        : frame.StartsWith("{\"type\":\"welcome\""u8);

    public byte[] Join(string room) => IsSignalR
        ? Encoding.UTF8.GetBytes($$"""{"type":1,"invocationId":"j","target":"Join","arguments":["{{room}}"]}""" + "\u001e")
        : Encoding.UTF8.GetBytes($$$"""{"type":"join","id":"j","data":{"room":"{{{room}}}"}}""");

    public bool IsJoined(ReadOnlySpan<byte> frame) => IsSignalR
        ? frame.StartsWith("{\"type\":3,\"invocationId\":\"j\""u8)
        : frame.StartsWith("{\"type\":\"joined\""u8);

    /// <summary>Something the server refused (error frame or a failed invocation).</summary>
    public bool IsError(ReadOnlySpan<byte> frame) => IsSignalR
        ? frame.IndexOf("\"error\":"u8) >= 0 || frame.StartsWith("{\"type\":7"u8)
        : frame.StartsWith("{\"type\":\"error\""u8);

    public bool IsPing(ReadOnlySpan<byte> frame) => IsSignalR
        ? frame.StartsWith("{\"type\":6}"u8)
        : frame.StartsWith("{\"type\":\"ping\""u8);

    public ReadOnlyMemory<byte> PongFrame => IsSignalR ? SignalRPing : BrokerPong;

    private static readonly byte[] SignalRPing = Encoding.UTF8.GetBytes("{\"type\":6}\u001e");
    private static readonly byte[] BrokerPong = Encoding.UTF8.GetBytes("{\"type\":\"pong\"}");

    /// <summary>Writes a publish of <paramref name="payloadLength"/> bytes already at <c>buffer[PublishPrefix(room).Length..]</c>.</summary>
    public byte[] PublishPrefix(string room) => IsSignalR
        ? Encoding.UTF8.GetBytes($$"""{"type":1,"target":"Publish","arguments":["{{room}}",""")
        : Encoding.UTF8.GetBytes($$"""{"type":"publish","data":{"room":"{{room}}","excludeSelf":true,"payload":""");

    public byte[] PublishSuffix => IsSignalR ? Encoding.UTF8.GetBytes("]}\u001e") : "}}"u8.ToArray();
}
