using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Akka.Actor;
using Akka.TestKit;
using Broker.Actors.Connections;
using Broker.Contracts.Protocol;

namespace Broker.TestKit;

/// <summary>
/// An <see cref="IConnectionTransport"/> for tests: a socket without a socket. Use it to test your
/// own connection handlers and room rules (<see cref="ConnectionTestKit"/> starts a connection over one).
/// <list type="bullet">
/// <item>Every frame the actor sends is kept in <see cref="Sent"/> and forwarded, as a
/// <see cref="SentFrame"/>, to the <see cref="Outbound"/> probe, so a test can
/// <c>ExpectMsg</c> on what the client would have received.</item>
/// <item><see cref="Close"/> is recorded (first call only, like the real transport) and forwarded to
/// the same probe as a <see cref="Closed"/>, so frames and the close are asserted in wire order.</item>
/// <item>A bounded <see cref="Capacity"/>: once that many frames are queued and not
/// <see cref="Drain"/>ed, <see cref="TrySend"/> returns false, as a full outbound queue does for a
/// slow consumer.</item>
/// <item><see cref="Start"/> remembers the connection actor; the test plays the inbound stream
/// with <see cref="ConnectStreamAsync"/> and <see cref="SendTextAsync"/>, following the
/// <see cref="InboundStream"/> protocol (one frame per ack) exactly as the WebSocket stream does.</item>
/// </list>
/// </summary>
public sealed class ProbeTransport : IConnectionTransport
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(3);

    private readonly ConcurrentQueue<SentFrame> _sent = new();
    private readonly TaskCompletionSource<IActorRef> _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly object _gate = new();
    private int _queued;
    private Closed? _closed;

    /// <param name="outbound">Receives a <see cref="SentFrame"/> per accepted frame and a <see cref="Closed"/> per close.</param>
    /// <param name="stream">Plays the socket's inbound stream: it sends frames to the actor and receives its acks.</param>
    /// <param name="capacity">Frames the outbound queue holds before <see cref="TrySend"/> reports it full.</param>
    public ProbeTransport(TestProbe outbound, TestProbe stream, int capacity = int.MaxValue)
    {
        Outbound = outbound;
        Stream = stream;
        Capacity = capacity;
    }

    /// <summary>What the client "receives": sent frames and the close, in order.</summary>
    public TestProbe Outbound { get; }

    /// <summary>The inbound stream's side of the <see cref="InboundStream"/> protocol.</summary>
    public TestProbe Stream { get; }

    /// <summary>Outbound queue size; <see cref="TrySend"/> returns false once it is reached.</summary>
    public int Capacity { get; set; }

    /// <summary>When set, <see cref="TrySend"/> throws it: a transport bug, to test how failures are contained.</summary>
    public Exception? SendFailure { get; set; }

    /// <summary>Every frame accepted so far, in order.</summary>
    public IReadOnlyCollection<SentFrame> Sent => _sent;

    /// <summary>The close the actor asked for, if any.</summary>
    public Closed? ClosedWith { get { lock (_gate) return _closed; } }

    /// <summary>The connection actor, once it called <see cref="Start"/>.</summary>
    public Task<IActorRef> Connection => _started.Task;

    public void Start(IActorRef connection) => _started.TrySetResult(connection);

    public bool TrySend(byte[] utf8Frame)
    {
        if (SendFailure is { } failure) throw failure;
        lock (_gate)
        {
            if (_closed is not null || _queued >= Capacity) return false;
            _queued++;
        }
        var frame = new SentFrame(utf8Frame);
        _sent.Enqueue(frame);
        Outbound.Ref.Tell(frame);
        return true;
    }

    public void Close(Close close, bool discardQueued = false)
    {
        var closed = new Closed(close, discardQueued);
        lock (_gate)
        {
            if (_closed is not null) return; // idempotent, like the real transport
            _closed = closed;
        }
        Outbound.Ref.Tell(closed);
    }

    /// <summary>The socket caught up: the queued frames were written, so the queue is empty again.</summary>
    public void Drain()
    {
        lock (_gate) _queued = 0;
    }

    /// <summary>
    /// Opens the inbound stream: waits for <see cref="Start"/>, sends <see cref="InboundStream.Started"/>
    /// and expects the actor's first <see cref="InboundStream.Ack"/>, after which it may send a frame.
    /// </summary>
    public async Task<IActorRef> ConnectStreamAsync(TimeSpan? timeout = null)
    {
        var connection = await Connection.WaitAsync(timeout ?? DefaultTimeout);
        connection.Tell(InboundStream.Started.Instance, Stream.Ref);
        await Stream.ExpectMsgAsync<InboundStream.Ack>(timeout ?? DefaultTimeout);
        return connection;
    }

    /// <summary>Sends one inbound event from the stream; the caller decides whether to await its ack.</summary>
    public async Task SendAsync(InboundFrame frame)
    {
        var connection = await Connection.WaitAsync(DefaultTimeout);
        connection.Tell(frame, Stream.Ref);
    }

    /// <summary>Sends a text frame and waits for the actor's ack (the stream may send the next one).</summary>
    public async Task SendTextAsync(string json, TimeSpan? timeout = null)
    {
        await SendAsync(InboundFrame.Text(Encoding.UTF8.GetBytes(json)));
        await Stream.ExpectMsgAsync<InboundStream.Ack>(timeout ?? DefaultTimeout);
    }

    /// <summary>Expects the next outbound event to be a frame and parses it.</summary>
    public async Task<JsonElement> ExpectFrameAsync(TimeSpan? timeout = null)
    {
        var frame = await Outbound.ExpectMsgAsync<SentFrame>(timeout ?? DefaultTimeout);
        return frame.Json;
    }

    /// <summary>Expects the next outbound frame to be of <paramref name="type"/> and returns it.</summary>
    public async Task<JsonElement> ExpectFrameAsync(string type, TimeSpan? timeout = null)
    {
        // The probe's own assertion (whatever the test framework) names the frame that came instead.
        var frame = await Outbound.ExpectMsgAsync<SentFrame>(f => f.Type == type, timeout ?? DefaultTimeout, $"a '{type}' frame");
        return frame.Json;
    }

    /// <summary>Expects the next outbound event to be the close.</summary>
    public Task<Closed> ExpectClosedAsync(TimeSpan? timeout = null) =>
        Outbound.ExpectMsgAsync<Closed>(timeout ?? DefaultTimeout).AsTask();

    /// <summary>One frame the actor sent, as bytes and parsed.</summary>
    public sealed record SentFrame(byte[] Utf8)
    {
        public string Text => Encoding.UTF8.GetString(Utf8);
        public JsonElement Json => JsonDocument.Parse(Utf8).RootElement.Clone();
        public string? Type => Json.GetProperty("type").GetString();
        public override string ToString() => Text;
    }

    /// <summary>The close the actor asked for.</summary>
    public sealed record Closed(Close Close, bool DiscardQueued);
}
