using System.Net.WebSockets;
using Broker.AspNetCore.WebSockets;

namespace Broker.Tests.WebSockets;

/// <summary>
/// <see cref="CorkableStream.TryHoldTextMessage"/>: the frames it writes into the cork buffer are
/// read by a real client WebSocket as whole text messages, at every length encoding and in order
/// with the frames the server's own socket sends into the same batch; when it cannot hold a message
/// it holds nothing, so the caller's send through the socket keeps the order.
/// </summary>
public sealed class HeldTextMessageTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Held_messages_of_every_length_encoding_are_read_whole_and_in_order_among_socket_sends()
    {
        await using var tcp = await LoopbackStreams.OpenAsync();
        var stream = new CorkableStream(tcp.Server, capacity: 256 * 1024);
        using var server = WebSocket.CreateFromStream(stream, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.Zero });
        using var client = WebSocket.CreateFromStream(tcp.Client, new WebSocketCreationOptions { IsServer = false, KeepAliveInterval = TimeSpan.Zero });
        // 125/126 and 65535/65536 are where the header grows from 2 to 4 and from 4 to 10 bytes.
        int[] lengths = [0, 1, 125, 126, 127, 65535, 65536, 70000];

        stream.Cork();
        var expected = new List<byte[]>();
        for (var i = 0; i < lengths.Length; i++)
        {
            var held = Payload(lengths[i], (byte)('a' + i));
            Assert.True(stream.TryHoldTextMessage(held), $"length {lengths[i]} not held");
            expected.Add(held);
            var sent = Payload(i + 3, (byte)('A' + i)); // the socket's own send, into the same batch
            await server.SendAsync(sent, WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
            expected.Add(sent);
        }
        Assert.Equal(1, await stream.UncorkAsync()); // everything in one write

        foreach (var want in expected)
        {
            var (type, got) = await ReceiveMessageAsync(client);
            Assert.Equal(WebSocketMessageType.Text, type);
            Assert.Equal(want.Length, got.Length);
            Assert.True(want.AsSpan().SequenceEqual(got), $"payload of length {want.Length} differs");
        }

        // The connection is still a sound WebSocket afterwards: a close handshake completes.
        var closing = client.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
        var close = await ReceiveMessageAsync(server);
        Assert.Equal(WebSocketMessageType.Close, close.Type);
        await server.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
        await closing.WaitAsync(Timeout);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, client.CloseStatus);
    }

    [Fact]
    public async Task Nothing_is_held_uncorked_or_past_the_buffer_and_a_refused_message_leaves_the_batch_as_it_was()
    {
        await using var tcp = await LoopbackStreams.OpenAsync();
        var stream = new CorkableStream(tcp.Server, capacity: 1024);
        using var client = WebSocket.CreateFromStream(tcp.Client, new WebSocketCreationOptions { IsServer = false, KeepAliveInterval = TimeSpan.Zero });

        Assert.False(stream.TryHoldTextMessage(Payload(10, (byte)'u'))); // not corked: the socket sends it

        stream.Cork();
        Assert.False(stream.TryHoldTextMessage(Payload(1024, (byte)'x'))); // header + payload > the buffer
        Assert.True(stream.TryHoldTextMessage(Payload(1000, (byte)'a'))); // 1004 bytes held
        Assert.False(stream.TryHoldTextMessage(Payload(19, (byte)'b'))); // 21 more would be 1025
        Assert.True(stream.TryHoldTextMessage(Payload(18, (byte)'c'))); // 20 more fit exactly
        Assert.Equal(1, await stream.UncorkAsync());

        var first = await ReceiveMessageAsync(client);
        Assert.Equal(Payload(1000, (byte)'a'), first.Payload);
        var second = await ReceiveMessageAsync(client);
        Assert.Equal(Payload(18, (byte)'c'), second.Payload);
    }

    [Fact]
    public async Task Nothing_is_held_while_another_write_holds_the_stream()
    {
        var inner = new GatedStream();
        var stream = new CorkableStream(inner, capacity: 1024);

        stream.Cork();
        var big = stream.WriteAsync(new byte[2048]).AsTask(); // larger than the buffer: written through, held at the gate
        await inner.WriteStarted.Task.WaitAsync(Timeout);
        Assert.False(stream.TryHoldTextMessage(Payload(5, (byte)'p'))); // never waits for the lock

        inner.Gate.SetResult();
        await big.WaitAsync(Timeout);
        Assert.True(stream.TryHoldTextMessage(Payload(5, (byte)'p')));
        Assert.Equal(2, await stream.UncorkAsync());
        Assert.Equal([2048, 7], inner.WriteLengths);
    }

    private static byte[] Payload(int length, byte fill)
    {
        var bytes = new byte[length];
        Array.Fill(bytes, fill);
        if (length > 0) bytes[^1] = (byte)'!'; // the last byte differs, so a truncated or shifted payload shows
        return bytes;
    }

    private static Task<(WebSocketMessageType Type, byte[] Payload)> ReceiveMessageAsync(WebSocket socket) =>
        WholeMessages.ReceiveAsync(socket, Timeout);

    /// <summary>Records write lengths; the first write waits at a gate.</summary>
    private sealed class GatedStream : TestStream
    {
        public TaskCompletionSource Gate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource WriteStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public List<int> WriteLengths { get; } = [];

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            WriteStarted.TrySetResult();
            await Gate.Task;
            lock (WriteLengths) WriteLengths.Add(buffer.Length);
        }

    }
}
