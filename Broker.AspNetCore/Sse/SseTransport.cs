using System.IO.Pipelines;
using System.Threading.Channels;
using Akka.Actor;
using Broker.Actors.Connections;
using Broker.Actors.Observability;
using Broker.Contracts.Protocol;

namespace Broker.AspNetCore.Sse;

/// <summary>
/// One SSE session as its <see cref="ConnectionActor"/> sees it: the same seam as a WebSocket, with
/// the two directions on two kinds of request. Outbound: a channel bounded by frames and bytes, as
/// on WebSocket (a full one is a slow consumer), drained by a loop that writes each frame as an
/// event to the GET's response and flushes once per batch. Inbound: the envelopes of every
/// <c>POST /sse/{route}/{session}</c>, rate-limited one by one like WebSocket frames, queued in
/// order and handed to the actor one per ack (<see cref="InboundStream"/>), so a busy actor slows
/// its own POSTs and nobody else's.
/// <para>
/// One GET is one session: when the response can no longer be written (the client left, a write
/// failed) the session ends at once, as a dropped socket does; there is no resume of a session on
/// a new stream (a client reconnects and recovers its rooms with <c>since</c>, as on WebSocket).
/// </para>
/// </summary>
public sealed class SseTransport : IConnectionTransport
{
    private readonly PipeWriter _body;
    private readonly Action _abortRequest;
    private readonly TransportLimits _limits;
    private readonly bool _writesProveLife;
    private readonly KeyValuePair<string, object?>[] _routeTag;
    private readonly Channel<byte[]> _outbound;
    private readonly Channel<InboundFrame> _inbound;
    private readonly InboundRateLimiter _limiter;
    /// <summary>Acks from the connection actor: each one lets the inbound pump hand over the next frame.</summary>
    private readonly SemaphoreSlim _acks = new(0, int.MaxValue);
    /// <summary>One POST's envelopes at a time, so two POSTs never interleave and the rate limiter has one caller.</summary>
    private readonly SemaphoreSlim _posting = new(1, 1);
    private readonly CancellationTokenSource _closing = new();
    private readonly CancellationTokenSource _grace = new();
    private readonly CancellationTokenRegistration _graceExpired;
    private readonly TaskCompletionSource _completed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    /// <summary>
    /// Guards every touch of the response from outside the write loop: once the GET has returned,
    /// Kestrel reuses its objects for the connection's next request, so nothing may reach them.
    /// </summary>
    private readonly Lock _responseGate = new();
    private bool _responseDone;
    private IActorRef _connection = ActorRefs.Nobody;
    private int _closeRequested;
    private volatile bool _discardQueued;
    private volatile bool _peerGone; // the response cannot be written any more: no final event
    private volatile bool _peerGoneFirst; // ...and that, not the actor, ended the session: the actor must hear it
    private Close _closedWith = Contracts.Protocol.Close.Normal;
    private long _framesIn, _bytesIn, _framesOut, _bytesOut;
    private long _queuedBytes;

    /// <param name="body">The GET's response body; only this transport writes to it once started.</param>
    /// <param name="abortRequest">Tears the GET's connection down (<c>HttpContext.Abort</c>): a stream that would not take its final event.</param>
    /// <param name="writesProveLife">
    /// The client has no way to answer a ping (a receive-only route, where a plain <c>EventSource</c>
    /// is the expected client): each flushed ping tells the actor <see cref="ConnectionMessages.StreamAlive"/>.
    /// </param>
    /// <param name="inboundCapacity">Envelopes queued for the actor before a POST waits; at least the <c>?rooms=</c> joins queued at start.</param>
    public SseTransport(PipeWriter body, Action abortRequest, TransportLimits limits, TimeProvider clock, string route,
        bool writesProveLife, int inboundCapacity)
    {
        _body = body;
        _abortRequest = abortRequest;
        _limits = limits;
        _writesProveLife = writesProveLife;
        _routeTag = BrokerMetrics.RouteTag(route);
        _limiter = new InboundRateLimiter(limits.RatePerSecond, limits.RateBurst, clock);
        _outbound = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(limits.OutboundQueue)
        {
            SingleReader = true,
            SingleWriter = false,
            FullMode = BoundedChannelFullMode.Wait, // TryWrite returns false when full: the slow-consumer signal
        });
        _inbound = Channel.CreateBounded<InboundFrame>(new BoundedChannelOptions(Math.Max(1, inboundCapacity))
        {
            SingleReader = true,
            SingleWriter = false,
            FullMode = BoundedChannelFullMode.Wait, // a POST waits for room: backpressure on the poster
        });
        // The close's grace period: a stream that has not taken its last event by then is torn down.
        _graceExpired = _grace.Token.Register(static s => ((SseTransport)s!).TearDown(), this);
    }

    /// <summary>Completes when the stream has ended (final event written, or the client gone) and the GET may return.</summary>
    public Task Completion => _completed.Task;

    /// <summary>The close this side chose, once closed by the broker, for the access log and metrics.</summary>
    public Close ClosedWith => _closedWith;

    /// <summary>Whether the stream ended because the client left or a write failed, not because the broker closed it.</summary>
    public bool EndedByPeer => _peerGoneFirst;

    public long FramesIn => Interlocked.Read(ref _framesIn);
    public long BytesIn => Interlocked.Read(ref _bytesIn);
    public long FramesOut => Interlocked.Read(ref _framesOut);
    public long BytesOut => Interlocked.Read(ref _bytesOut);

    /// <summary>
    /// Queues an envelope the server itself made for the client (the <c>?rooms=</c> joins), before
    /// <see cref="Start"/>: not rate-limited, since the room cap bounds them.
    /// </summary>
    public bool TryQueueInitial(byte[] envelope) => _inbound.Writer.TryWrite(InboundFrame.Text(envelope));

    public void Start(IActorRef connection)
    {
        _connection = connection;
        var acks = new AckRef(_acks, ((IInternalActorRef)connection).Provider, connection.Path / "inbound");
        connection.Tell(InboundStream.Started.Instance, acks);
        _ = PumpAsync(connection, acks);
        _ = FinishAsync(WriteLoopAsync());
    }

    /// <summary>Queues a frame; false means a slow consumer (frames or bytes, as <see cref="WebSocketTransport.TrySend"/>).</summary>
    public bool TrySend(byte[] utf8Frame)
    {
        var max = _limits.OutboundQueueBytes;
        if (!OutboundByteBudget.TryReserve(ref _queuedBytes, max, utf8Frame.Length)) return false;
        if (_outbound.Writer.TryWrite(utf8Frame)) return true;
        OutboundByteBudget.Release(ref _queuedBytes, max, utf8Frame.Length);
        return false;
    }

    public void Close(Close close, bool discardQueued = false)
    {
        if (Interlocked.Exchange(ref _closeRequested, 1) == 1) return;
        _closedWith = close;
        _discardQueued = discardQueued;
        _closing.Cancel();
        _outbound.Writer.TryComplete();
        _inbound.Writer.TryComplete();
        // A slow consumer's write loop is stuck in a flush the client will not take: release it,
        // so the final event goes out (or the grace period ends the stream) now.
        if (discardQueued) CancelPendingFlush();
        _grace.CancelAfter(_limits.CloseGrace);
    }

    /// <summary>The GET was aborted (the client left and Kestrel noticed): the session ends without a final event.</summary>
    public void Abort() => PeerGone();

    /// <summary>
    /// Hands one POST's envelopes to the actor, in order, each through the rate limiter as a
    /// WebSocket frame is. Waits while the inbound queue is full. False when the session is over
    /// (closed, or closing because of this POST's flood): the caller answers 404.
    /// </summary>
    public async Task<bool> PostAsync(IReadOnlyList<byte[]> envelopes, CancellationToken aborted)
    {
        try
        {
            await _posting.WaitAsync(aborted).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        try
        {
            foreach (var envelope in envelopes)
            {
                if (_closing.IsCancellationRequested) return false;
                Interlocked.Increment(ref _framesIn);
                Interlocked.Add(ref _bytesIn, envelope.Length);
                BrokerMetrics.FramesIn.Add(1);
                BrokerMetrics.BytesIn.Add(envelope.Length);
                var frame = _limiter.Check() switch
                {
                    RateDecision.Allow => InboundFrame.Text(envelope),
                    RateDecision.Reject => new InboundFrame(InboundKind.RateLimited, envelope),
                    _ => InboundFrame.Flooding,
                };
                await _inbound.Writer.WriteAsync(frame, aborted).ConfigureAwait(false);
                // Sustained flooding closes the session (1008); what follows is not read, as on WebSocket.
                if (frame.Kind == InboundKind.Flooding)
                {
                    _inbound.Writer.TryComplete();
                    return true;
                }
            }
            return true;
        }
        catch (Exception e) when (e is ChannelClosedException or OperationCanceledException)
        {
            return false;
        }
        finally
        {
            _posting.Release();
        }
    }

    /// <summary>
    /// Hands queued envelopes to the actor, the next only after the actor acked the previous one.
    /// When the client leaves first, the actor hears <see cref="InboundStream.Completed"/>, or it
    /// would stay a member of its rooms.
    /// </summary>
    private async Task PumpAsync(IActorRef connection, IActorRef acks)
    {
        var reader = _inbound.Reader;
        try
        {
            while (await reader.WaitToReadAsync(_closing.Token).ConfigureAwait(false))
            {
                while (reader.TryRead(out var frame))
                {
                    await _acks.WaitAsync(_closing.Token).ConfigureAwait(false); // the previous frame's (or Started's) ack
                    connection.Tell(frame, acks);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Closing: by the actor (it is stopping) or because the client left (below).
        }
        if (_peerGoneFirst) connection.Tell(InboundStream.Completed.Instance, acks);
    }

    /// <summary>
    /// Drains the outbound queue onto the response: up to <see cref="TransportLimits.WriteBatchFrames"/>
    /// events per flush. A flush that fails, or finds the client gone, ends the session at once
    /// (PROTOCOL §9.4); a flush the client does not take holds the loop, the queue fills, and the
    /// actor cuts the client off as a slow consumer.
    /// </summary>
    private async Task WriteLoopAsync()
    {
        var reader = _outbound.Reader;
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                long frames = 0, bytes = 0;
                var pinged = false;
                while (frames < _limits.WriteBatchFrames && reader.TryRead(out var frame))
                {
                    OutboundByteBudget.Release(ref _queuedBytes, _limits.OutboundQueueBytes, frame.Length);
                    if (_discardQueued) continue;
                    SseEvents.WriteFrame(_body, frame);
                    frames++;
                    bytes += frame.Length;
                    // The one shared ping array: a reference check, nothing parsed.
                    pinged |= ReferenceEquals(frame, ServerFrames.Ping);
                }
                if (frames == 0) continue;
                var flushed = await _body.FlushAsync().ConfigureAwait(false);
                Interlocked.Add(ref _framesOut, frames);
                Interlocked.Add(ref _bytesOut, bytes);
                BrokerMetrics.FramesOut.Add(frames);
                BrokerMetrics.BytesOut.Add(bytes);
                BrokerMetrics.SocketFlushes.Add(1, _routeTag.AsSpan());
                if (flushed.IsCompleted)
                {
                    PeerGone();
                    return;
                }
                if (flushed.IsCanceled) return; // released by Close (slow consumer) or the teardown
                if (pinged && _writesProveLife) _connection.Tell(ConnectionMessages.StreamAlive.Instance);
            }
        }
        catch (Exception)
        {
            // Whatever failed the write (the client reset the connection, the response was aborted),
            // the stream is unusable: the session ends now (PROTOCOL §9.4).
            PeerGone();
        }
    }

    /// <summary>After the write loop: the final <c>close</c> event when the broker ended the stream, then the GET may return.</summary>
    private async Task FinishAsync(Task writes)
    {
        try
        {
            await writes.ConfigureAwait(false);
            if (!_peerGone)
            {
                // Bounded by the grace period Close started: TearDown releases this flush.
                SseEvents.WriteFrame(_body, SseEvents.CloseFrame(_closedWith));
                var flushed = await _body.FlushAsync().ConfigureAwait(false);
                // A cancel Close made for a slow consumer's stuck flush may not have found one
                // pending: it then cancels this flush instead. Flush again; only the teardown stops it.
                if (flushed.IsCanceled && !_peerGone) flushed = await _body.FlushAsync().ConfigureAwait(false);
                if (flushed.IsCanceled || flushed.IsCompleted) PeerGone();
            }
        }
        catch (Exception)
        {
            PeerGone(); // the final event could not be written: the client is gone
        }
        finally
        {
            await _graceExpired.DisposeAsync().ConfigureAwait(false); // a teardown under way finishes first
            lock (_responseGate) _responseDone = true;
            _completed.TrySetResult();
        }
    }

    /// <summary>The client is gone, or will not take the stream: stop both directions; no final event.</summary>
    private void PeerGone()
    {
        if (Interlocked.Exchange(ref _closeRequested, 1) == 0) _peerGoneFirst = true;
        _peerGone = true;
        _closing.Cancel();
        _outbound.Writer.TryComplete();
        _inbound.Writer.TryComplete();
        CancelPendingFlush();
    }

    /// <summary>The grace period ended with the final event unsent: drop the connection, as a WebSocket is aborted.</summary>
    private void TearDown()
    {
        _peerGone = true;
        lock (_responseGate)
        {
            if (_responseDone) return;
            _body.CancelPendingFlush();
            _abortRequest();
        }
    }

    private void CancelPendingFlush()
    {
        lock (_responseGate)
            if (!_responseDone) _body.CancelPendingFlush();
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
}
