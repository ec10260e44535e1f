using System.Buffers;
using System.Net.WebSockets;
using System.Text.Unicode;
using Akka.Actor;
using Broker.Actors.Observability;
using Broker.Contracts.Protocol;
using Microsoft.Extensions.Logging;

namespace Broker.Actors.Connections;

/// <summary>Limits the transport enforces before a frame reaches the actor.</summary>
/// <param name="WriteBatchFrames">Most frames the write loop sends between one cork and uncork (1: no batching).</param>
public sealed record TransportLimits(
    int MaxMessageBytes,
    int RatePerSecond,
    int RateBurst,
    int OutboundQueue,
    TimeSpan CloseGrace,
    int WriteBatchFrames = 256,
    long OutboundQueueBytes = 0);

/// <summary>
/// What a transport is told about its socket besides the socket itself: the stream to cork
/// (null: frame by frame), where unexpected failures are logged, the ids they are logged with, and
/// the connection's heartbeat (null: every frame goes to the actor, which reports signs of life), and
/// whether the route compresses (its frames then always go through the socket, which deflates them;
/// otherwise a corked batch's frames are written straight into the cork).
/// </summary>
public sealed record TransportContext(string ConnectionId, string Route, ICorkable? Cork = null, ILogger? Log = null,
    ConnectionHeartbeat? Heartbeat = null, bool Compressed = false)
{
    /// <summary>No cork, no log: the transport as tests that build one over a bare stream use it.</summary>
    public static readonly TransportContext None = new("", "");
}

/// <summary>
/// Runs one WebSocket with two loops of its own. Inbound: whole messages (size-checked while
/// fragments are assembled, UTF-8 checked, rate-limited by a token bucket) handed to the connection
/// actor one frame per ack, so a busy actor slows its own socket and no one else's. Outbound: a bounded
/// queue (<see cref="OutboundFrames"/>) drained onto the socket by a thread-pool item started when a
/// frame finds it idle; a full queue means a slow consumer. Nothing outbound waits while the socket
/// is idle. When more than one frame is queued and the socket's stream can be corked, the drain sends
/// them all in one write and flush (each still its own WebSocket message).
/// </summary>
public sealed partial class WebSocketTransport : IConnectionTransport, IThreadPoolWorkItem
{
    private readonly WebSocket _socket;
    private readonly TransportLimits _limits;
    private readonly TransportContext _context;
    private readonly KeyValuePair<string, object?>[] _routeTag; // shared by every socket of the route
    private int _failureLogged;
    private readonly TimeProvider _clock; // the inbound rate limiter's only clock
    private readonly OutboundFrames _outbound;
    /// <summary>Acks from the connection actor: each one lets the read loop hand over the next frame.</summary>
    private readonly SemaphoreSlim _acks = new(0, int.MaxValue);

    private readonly CancellationTokenSource _abort = new();
    private readonly CancellationTokenSource _closing = new();
    private readonly TaskCompletionSource _inboundEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _completed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _closeRequested;
    private volatile bool _discardQueued;
    private volatile bool _abortedFromOutside; // Abort(): the host tore the socket down, not the actor
    private volatile bool _inboundFaulted; // the WebSocket layer failed a receive (protocol violation or dropped peer)
    private volatile bool _sendFailed; // a send failed: the socket is gone, what is queued from now on is dropped
    private int _finish; // FinishStarted | FinishWanted: the close handshake runs once both are set
    private Close _closedWith = Contracts.Protocol.Close.Normal;
    private long _framesIn, _bytesIn, _framesOut, _bytesOut;

    /// <param name="clock">The clock the inbound rate limiter refills by: the host's <see cref="TimeProvider"/>.</param>
    /// <param name="context">The socket's corkable stream, logger and ids; <see cref="TransportContext.None"/> when omitted.</param>
    public WebSocketTransport(WebSocket socket, TransportLimits limits, TimeProvider clock, TransportContext? context = null)
    {
        _socket = socket;
        _limits = limits;
        _context = context ?? TransportContext.None;
        _routeTag = BrokerMetrics.RouteTag(_context.Route);
        _clock = clock;
        _outbound = new OutboundFrames(limits.OutboundQueue, limits.OutboundQueueBytes);
        // Abort unblocks any pending send/receive, so a peer that stops reading can't pin us.
        _abort.Token.Register(static s => ((WebSocket)s!).Abort(), socket);
    }

    /// <summary>Completes when the socket is fully closed (or aborted) and both directions have stopped.</summary>
    public Task Completion => _completed.Task;

    /// <summary>The close this side chose, once closed by the broker, for the access log and metrics.</summary>
    public Close ClosedWith => _closedWith;

    public long FramesIn => Interlocked.Read(ref _framesIn);
    public long BytesIn => Interlocked.Read(ref _bytesIn);
    public long FramesOut => Interlocked.Read(ref _framesOut);
    public long BytesOut => Interlocked.Read(ref _bytesOut);

    public void Start(IActorRef connection)
    {
        // The actor speaks the ack protocol (Started, then one frame per Ack, then Completed) to
        // the sender of Started. That sender is a bare ref releasing a semaphore, not a stream:
        // a materialized stream per socket cost an interpreter actor and stage objects (memory
        // per idle connection) and two extra hops per inbound frame (docs/benchmarks.md).
        var acks = new AckRef(_acks, ((IInternalActorRef)connection).Provider, connection.Path / "inbound");
        connection.Tell(InboundStream.Started.Instance, acks);
        // The socket is read by a loop of its own: when the actor stops, the socket must still be
        // read until the peer's close frame arrives, or the close handshake is cut short and the
        // client never sees our close code.
        // Queued directly rather than Task.Run: the latter keeps an unwrap promise per socket alive.
        ThreadPool.UnsafeQueueUserWorkItem(static state => _ = state.Transport.ReadLoopAsync(state.Connection, state.Acks),
            (Transport: this, Connection: connection, Acks: (IActorRef)acks), preferLocal: false);
        // The close handshake belongs to a started transport only: an unstarted one (the endpoint
        // could not start its actor) is closed by the endpoint itself.
        if ((Interlocked.Or(ref _finish, FinishStarted) & FinishWanted) != 0) _ = FinishAsync();
    }

    private const int FinishStarted = 1, FinishWanted = 2;

    /// <summary>The outbound side is over (queue completed and drained, or a send failed): close once started.</summary>
    private void BeginFinish()
    {
        if ((Interlocked.Or(ref _finish, FinishWanted) & (FinishStarted | FinishWanted)) == FinishStarted) _ = FinishAsync();
    }

    /// <summary>
    /// Queues a frame; false means a slow consumer: the queue holds <c>OutboundQueue</c> frames, or
    /// holds <c>OutboundQueueBytes</c> already (a frame is never refused by bytes when the queue is
    /// empty, so no frame is too big for a reader that keeps up). The byte bound is what keeps one
    /// stalled reader of large messages from pinning 1,000 × 64 KiB (issue #15).
    /// </summary>
    public bool TrySend(byte[] utf8Frame)
    {
        switch (_outbound.TryEnqueue(utf8Frame))
        {
            case OutboundFrames.Enqueued.Refused:
                return false;
            case OutboundFrames.Enqueued.StartDrain:
                StartDrain();
                return true;
            default:
                return true;
        }
    }

    /// <summary>
    /// Queued rather than run on the caller's thread: the caller may be the room hub walking ten
    /// thousand sockets, which must not wait for one socket's send.
    /// </summary>
    private void StartDrain() => ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);

    void IThreadPoolWorkItem.Execute() => _ = DrainAsync();

    public void Close(Close close, bool discardQueued = false)
    {
        if (Interlocked.Exchange(ref _closeRequested, 1) == 1) return;
        _closedWith = close;
        _discardQueued = discardQueued;
        _closing.Cancel();
        if (_outbound.Complete()) StartDrain();
        // Whatever happens next, the socket is gone by the grace period.
        _abort.CancelAfter(_limits.CloseGrace);
    }

    /// <summary>Tears the socket down without a close handshake (the request was aborted).</summary>
    public void Abort()
    {
        _abortedFromOutside = true;
        Interlocked.Exchange(ref _closeRequested, 1);
        _closing.Cancel();
        if (_outbound.Complete()) StartDrain();
        _abort.Cancel();
    }

    private static InboundFrame ApplyRateLimit(InboundFrame frame, InboundRateLimiter limiter) =>
        frame.Kind is InboundKind.Text or InboundKind.Binary ? Limited(frame, limiter.Check()) : frame;

    private static InboundFrame Limited(InboundFrame frame, RateDecision decision) => decision switch
    {
        RateDecision.Allow => frame,
        RateDecision.Reject => new InboundFrame(InboundKind.RateLimited, frame.Utf8),
        _ => InboundFrame.Flooding,
    };

    /// <summary>
    /// A client's answer to <c>ping</c> exactly as every client of ours writes it. Read as this one
    /// shared frame, it is not handed to the actor at all when the heartbeat is shared: a pong only
    /// proves life, and the heartbeat sees that here (one actor turn and a parse fewer per ping).
    /// Any other spelling of a pong takes the ordinary way.
    /// </summary>
    private static readonly InboundFrame BarePong = InboundFrame.Text("{\"type\":\"pong\"}"u8.ToArray());

    /// <summary>
    /// Drains the outbound queue onto the socket, then ends: the next frame to find the queue idle
    /// starts another drain. When the queue is completed (<see cref="Close"/>) and drained, or a send
    /// failed, the close handshake follows.
    /// </summary>
    private async Task DrainAsync()
    {
        bool completed;
        do
        {
            try
            {
                await SendQueuedAsync().ConfigureAwait(false);
            }
            catch (Exception e)
            {
                // The peer is gone or the socket was aborted (or, logged, a bug): nothing more can be
                // written, so what is queued from now on is dropped and the close handshake is tried.
                Unexpected(e, "write");
                _sendFailed = true;
                BeginFinish();
            }
        }
        while (!_outbound.TryEndDrain(out completed));
        if (completed) BeginFinish();
    }

    /// <summary>
    /// Writes what is queued. A plain loop rather than a stream stage: per delivery it allocates
    /// nothing when the socket accepts the frame at once (the async method then completes
    /// synchronously), and a backlog is written without a hop per frame. A frame that has others
    /// behind it starts a corked batch: up to <see cref="TransportLimits.WriteBatchFrames"/> frames go
    /// into the stream's buffer and out in one write and flush, so a member that reads promptly keeps
    /// up with a burst instead of paying a flush per frame (#15). Inside a batch, an uncompressed
    /// frame is framed and copied into that buffer directly, not sent through the socket (#18).
    /// </summary>
    private async Task SendQueuedAsync()
    {
        var cork = _limits.WriteBatchFrames > 1 ? _context.Cork : null;
        var holdDirectly = !_context.Compressed;
        // Counted once per drain, not per frame: metric updates are a visible share of the
        // per-delivery cost (docs/benchmarks.md).
        long frames = 0, bytes = 0, flushes = 0;
        try
        {
            while (_outbound.TryTake(out var frame))
            {
                if (_discardQueued || _sendFailed) continue;
                if (cork is null || !_outbound.HasMore)
                {
                    // No token: registering one per send was a visible share of fan-out CPU, and the
                    // abort already ends a stuck send (it aborts the socket, see the constructor).
                    await _socket.SendAsync(frame, WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None).ConfigureAwait(false);
                    frames++;
                    bytes += frame.Length;
                    flushes++;
                    continue;
                }
                // Others are queued behind it: the sends below complete at once into the
                // stream's buffer (or write early past its cap), the uncork writes them out.
                cork.Cork();
                var batched = 0;
                try
                {
                    do
                    {
                        // Straight into the cork while the socket may still send data (the state is a
                        // field read; a closed or aborted socket's SendAsync throws as it should).
                        if (!(holdDirectly && (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                              && cork.TryHoldTextMessage(frame)))
                            await _socket.SendAsync(frame, WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None).ConfigureAwait(false);
                        frames++;
                        bytes += frame.Length;
                    }
                    while (++batched < _limits.WriteBatchFrames && !_discardQueued && _outbound.TryTake(out frame));
                }
                catch
                {
                    // Uncorked whatever happens, or the close frame FinishAsync sends would be held.
                    await UncorkQuietlyAsync(cork).ConfigureAwait(false);
                    throw;
                }
                flushes += await cork.UncorkAsync().ConfigureAwait(false);
                // A full batch with more behind it: let other sockets' drains have the thread first.
                if (batched == _limits.WriteBatchFrames && _outbound.HasMore) await Task.Yield();
            }
        }
        finally
        {
            if (frames > 0)
            {
                Interlocked.Add(ref _framesOut, frames);
                Interlocked.Add(ref _bytesOut, bytes);
                BrokerMetrics.FramesOut.Add(frames);
                BrokerMetrics.BytesOut.Add(bytes);
            }
            if (flushes > 0) BrokerMetrics.SocketFlushes.Add(flushes, _routeTag.AsSpan());
        }
    }

    private static async ValueTask UncorkQuietlyAsync(ICorkable cork)
    {
        try { await cork.UncorkAsync().ConfigureAwait(false); }
        catch (Exception e) when (IsExpected(e)) { /* the socket is gone: the send's failure is the one that counts */ }
    }

    /// <summary>How a socket ends when the peer leaves or the socket is aborted; anything else is a bug worth a log line.</summary>
    private static bool IsExpected(Exception e) =>
        e is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException;

    /// <summary>Logs a failure the transport did not expect, once per connection (never frame contents).</summary>
    private void Unexpected(Exception e, string where)
    {
        if (IsExpected(e) || _context.Log is null || Interlocked.Exchange(ref _failureLogged, 1) == 1) return;
        UnexpectedFailure(_context.Log, e, _context.ConnectionId, where);
    }

    /// <summary>
    /// Reads whole messages and hands them to the actor one at a time: the next only after the
    /// actor acked the previous one (a busy actor slows its own socket, one frame read ahead).
    /// Once closing, or after a message that ends the connection, it keeps reading and discards
    /// until the peer's close frame or the abort.
    /// </summary>
    private async Task ReadLoopAsync(IActorRef connection, IActorRef acks)
    {
        var limiter = new InboundRateLimiter(_limits.RatePerSecond, _limits.RateBurst, _clock);
        var draining = false;
        try
        {
            while (true)
            {
                // No token, as for sends: a cancelable receive registers on it for as long as it is
                // pending (all of an idle socket's life), and all the registration would do is abort
                // the socket, which the abort does already (see the constructor).
                var frame = await ReadOneAsync(_abort.Token).ConfigureAwait(false);
                if (frame is null) break;
                _context.Heartbeat?.SignOfLife(); // any frame counts, read even while the actor is busy
                if (draining || _closing.IsCancellationRequested) continue;
                InboundFrame? limitedPong = null;
                if (ReferenceEquals(frame, BarePong) && _context.Heartbeat is not null)
                {
                    // Still a frame for the rate limit: a client flooding pongs is limited like any other.
                    var decision = limiter.Check();
                    if (decision == RateDecision.Allow) continue;
                    limitedPong = Limited(frame, decision);
                }
                try
                {
                    await _acks.WaitAsync(_closing.Token).ConfigureAwait(false); // the previous frame's (or Started's) ack
                }
                catch (OperationCanceledException)
                {
                    draining = true;
                    continue;
                }
                connection.Tell(limitedPong ?? ApplyRateLimit(frame, limiter), acks);
                if (frame.Kind is InboundKind.TooBig or InboundKind.InvalidUtf8) draining = true;
            }
        }
        catch (Exception e)
        {
            // Whatever ended the reads (a failure ReadOneAsync does not expect included), the
            // actor must still hear that the inbound side is over, or a dead peer stays a member.
            Unexpected(e, "read");
        }
        finally
        {
            _inboundEnded.TrySetResult();
        }
        // The client closed or the connection dropped: tell the actor after its last frame is
        // handled (its ack). When the actor closed the socket itself it is stopping already; but
        // an abort from outside (the request aborted: typically the peer vanished, and Kestrel
        // noticed before this loop did) is news to it, and it must hear it or stay a member.
        try
        {
            await _acks.WaitAsync(_closing.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            if (!_abortedFromOutside) return;
        }
        connection.Tell(InboundStream.Completed.Instance, acks);
    }

    /// <summary>The actor's side of the ack protocol: every message it sends here is an ack.</summary>
    private sealed class AckRef(SemaphoreSlim acks, IActorRefProvider provider, ActorPath path) : MinimalActorRef
    {
        public override ActorPath Path { get; } = path;
        public override IActorRefProvider Provider { get; } = provider;

        protected override void TellInternal(object message, IActorRef sender)
        {
            if (message is InboundStream.Ack) acks.Release();
        }
    }

    /// <summary>Reads one whole message; null when the socket closed or failed.</summary>
    private async ValueTask<InboundFrame?> ReadOneAsync(CancellationToken cancellationToken)
    {
        byte[]? buffer = null;
        try
        {
            // A zero-byte read waits for data without holding a buffer: idle connections stay cheap.
            var first = await _socket.ReceiveAsync(Memory<byte>.Empty, cancellationToken).ConfigureAwait(false);
            if (first.MessageType == WebSocketMessageType.Close) return null;
            var type = first.MessageType;
            var count = 0;
            var end = first.EndOfMessage;
            var cap = _limits.MaxMessageBytes + 1; // one byte past the limit is enough to know it is over
            if (!end)
            {
                buffer = ArrayPool<byte>.Shared.Rent(Math.Min(4096, cap));
                while (!end)
                {
                    if (count == buffer.Length)
                    {
                        var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, cap));
                        buffer.AsSpan(0, count).CopyTo(bigger);
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = bigger;
                    }
                    var room = Math.Min(buffer.Length, cap) - count;
                    var result = await _socket.ReceiveAsync(buffer.AsMemory(count, room), cancellationToken).ConfigureAwait(false);
                    if (result.MessageType == WebSocketMessageType.Close) return null;
                    count += result.Count;
                    end = result.EndOfMessage;
                    // Enforced while assembling: we never hold more than the limit plus one byte.
                    if (count > _limits.MaxMessageBytes) return InboundFrame.TooBig;
                }
            }
            Interlocked.Increment(ref _framesIn);
            Interlocked.Add(ref _bytesIn, count);
            BrokerMetrics.FramesIn.Add(1);
            BrokerMetrics.BytesIn.Add(count);
            if (type == WebSocketMessageType.Binary) return InboundFrame.Binary;
            var text = buffer is null ? ReadOnlySpan<byte>.Empty : buffer.AsSpan(0, count);
            if (!Utf8.IsValid(text)) return InboundFrame.InvalidUtf8;
            if (text.SequenceEqual(BarePong.Utf8)) return BarePong;
            return InboundFrame.Text(text.ToArray());
        }
        catch (Exception e) when (IsExpected(e))
        {
            if (e is WebSocketException) _inboundFaulted = true;
            return null;
        }
        finally
        {
            if (buffer is not null) ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// The close handshake, once the outbound side is over: started by the drain that found the
    /// queue completed (Close or Abort completes it, and the abort, which only ever follows one of
    /// them, ends a send stuck on a peer that stopped reading), or by a failed send. Nothing of it
    /// exists before: an idle connection should hold nothing it does not need (docs/benchmarks.md).
    /// </summary>
    private async Task FinishAsync()
    {
        try
        {
            var aborted = Task.Delay(Timeout.Infinite, _abort.Token);

            if (!_abort.IsCancellationRequested && _socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                try
                {
                    await _socket.CloseOutputAsync((WebSocketCloseStatus)_closedWith.Code, _closedWith.Reason, _abort.Token).ConfigureAwait(false);
                }
                catch (Exception e) { Unexpected(e, "close"); /* usually the peer is gone */ }
            }
            // Wait for the peer's close frame (the read loop ends), bounded by the grace period.
            await Task.WhenAny(_inboundEnded.Task, Task.Delay(_limits.CloseGrace), aborted).ConfigureAwait(false);
            // The WebSocket layer itself rejected the input (e.g. invalid UTF-8: it sends 1007 and
            // aborts). Tearing the connection down now resets TCP before that close frame reaches
            // the client, so linger until the client leaves or the grace period ends.
            if (_inboundFaulted && _socket.State == WebSocketState.Aborted)
                await Task.WhenAny(aborted).ConfigureAwait(false);
        }
        finally
        {
            _abort.Cancel();
            _completed.TrySetResult();
        }
    }
}
