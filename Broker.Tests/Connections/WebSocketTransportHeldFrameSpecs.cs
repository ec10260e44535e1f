using System.Net.WebSockets;
using Broker.Actors.Connections;
using Broker.AspNetCore.WebSockets;
using Broker.Contracts.Protocol;
using Broker.Tests.WebSockets;
using Xunit.Abstractions;

namespace Broker.Tests.Connections;

/// <summary>
/// A <see cref="WebSocketTransport"/> whose drain finds a backlog writes the batch's frames straight
/// into the cork buffer, and through its socket when the route compresses (the socket deflates);
/// a real client WebSocket on the far end of a loopback TCP connection reads every frame, in order.
/// </summary>
public sealed class WebSocketTransportHeldFrameSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(output: output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private const int Frames = 200;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_backlog_is_held_directly_unless_the_route_compresses_and_arrives_whole_and_in_order(bool compressed)
    {
        await using var tcp = await LoopbackStreams.OpenAsync();
        var gated = new FirstWriteGate(tcp.Server);
        var stream = new CorkableStream(gated, capacity: 64 * 1024);
        var deflate = compressed ? new WebSocketDeflateOptions { ServerContextTakeover = false } : null;
        using var server = WebSocket.CreateFromStream(stream, new WebSocketCreationOptions
        {
            IsServer = true, KeepAliveInterval = TimeSpan.Zero, DangerousDeflateOptions = deflate,
        });
        using var client = WebSocket.CreateFromStream(tcp.Client, new WebSocketCreationOptions
        {
            IsServer = false, KeepAliveInterval = TimeSpan.Zero, DangerousDeflateOptions = deflate,
        });
        var cork = new CountingCork(stream);
        var transport = new WebSocketTransport(server, new TransportLimits(64 * 1024, 1000, 1000, Frames + 1, TimeSpan.FromSeconds(2)),
            TimeProvider.System, new TransportContext("conn-h1", "test", cork, Compressed: compressed));
        var actor = CreateTestProbe();
        transport.Start(actor.Ref);
        actor.ExpectMsg<InboundStream.Started>(Timeout);

        // The first frame's write waits at the gate, so the other 199 queue behind it: one backlog.
        Assert.True(transport.TrySend(Frame(0)));
        await gated.Waiting.Task.WaitAsync(Timeout);
        for (var n = 1; n < Frames; n++) Assert.True(transport.TrySend(Frame(n)));
        gated.Open.SetResult();

        for (var n = 0; n < Frames; n++)
        {
            var (type, text) = await ReceiveAsync(client);
            Assert.Equal(WebSocketMessageType.Text, type);
            Assert.Equal(System.Text.Encoding.UTF8.GetString(Frame(n)), text);
        }
        if (compressed) Assert.Equal(0, cork.Held);
        else Assert.Equal(Frames - 1, cork.Held); // all but the lone first frame, which went through the socket
        Assert.True(cork.Uncorks >= 1);

        // The close handshake after held frames: the client sees the broker's code.
        transport.Close(Close.Normal);
        var (closeType, _) = await ReceiveAsync(client);
        Assert.Equal(WebSocketMessageType.Close, closeType);
        Assert.Equal((WebSocketCloseStatus)Close.Normal.Code, client.CloseStatus);
        await client.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
        await transport.Completion.WaitAsync(Timeout);
    }

    private static byte[] Frame(int n) => System.Text.Encoding.UTF8.GetBytes(
        "{\"type\":\"message\",\"data\":{\"room\":\"r\",\"offset\":" + n + ",\"payload\":\"" + new string((char)('a' + n % 26), n % 300) + "\"}}");

    private static async Task<(WebSocketMessageType Type, string Text)> ReceiveAsync(WebSocket socket)
    {
        var (type, payload) = await WholeMessages.ReceiveAsync(socket, Timeout);
        return (type, System.Text.Encoding.UTF8.GetString(payload));
    }

    /// <summary>The cork the transport is given, counting what it held directly (the socket writes to the same stream).</summary>
    private sealed class CountingCork(CorkableStream stream) : ICorkable
    {
        public int Held;
        public int Uncorks;
        public void Cork() => stream.Cork();

        public ValueTask<int> UncorkAsync()
        {
            Interlocked.Increment(ref Uncorks);
            return stream.UncorkAsync();
        }

        public bool TryHoldTextMessage(ReadOnlySpan<byte> utf8Payload)
        {
            if (!stream.TryHoldTextMessage(utf8Payload)) return false;
            Interlocked.Increment(ref Held);
            return true;
        }
    }

    /// <summary>Passes writes to the TCP stream; the first one waits until the test opens the gate.</summary>
    private sealed class FirstWriteGate(Stream inner) : TestStream
    {
        private int _writes;
        public TaskCompletionSource Waiting { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource Open { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (Interlocked.Increment(ref _writes) == 1)
            {
                Waiting.TrySetResult();
                await Open.Task.WaitAsync(cancellationToken);
            }
            await inner.WriteAsync(buffer, cancellationToken);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
        public override void Flush() => inner.Flush();
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.ReadAsync(buffer, offset, count, cancellationToken);
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
    }
}
