using System.Net.WebSockets;

namespace Broker.Client.Internal;

/// <summary>Why a receive ended: a close frame, or the socket failed or was aborted.</summary>
internal readonly record struct CloseInfo(int Code, string? Reason);

/// <summary>An inbound frame larger than <see cref="BrokerClientOptions.MaxFrameBytes"/>.</summary>
internal sealed class FrameTooBigException(int limit) : Exception($"Inbound frame over {limit} bytes.");

/// <summary>
/// One connection (a WebSocket, or an SSE session behind the same surface): the socket, its single-writer send path and receive buffer, and what
/// the watchdog and token refresh need. A new one per (re)connect; never reused.
/// </summary>
internal sealed class BrokerConnection(WebSocket socket, int maxFrameBytes, TimeProvider time) : IDisposable
{
    private const int InitialReceiveBuffer = 16 * 1024;

    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly FrameWriter _writer = new();
    private byte[] _receiveBuffer = new byte[InitialReceiveBuffer];
    private long _lastFrameTimestamp = time.GetTimestamp();
    private volatile bool _ended;
    private string? _abortReason;
    private int _abortCode;
    private long _expiresAtMs;

    /// <summary>A <see cref="ClientWebSocket"/>, or the SSE fallback's <see cref="SseWebSocket"/>.</summary>
    public WebSocket Socket { get; } = socket;

    public Welcome? Welcome { get; set; }

    /// <summary>The credential's expiry, moved forward by each <c>refreshed</c>.</summary>
    public DateTimeOffset? ExpiresAt
    {
        get => Interlocked.Read(ref _expiresAtMs) is var ms and not 0 ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;
        set => Interlocked.Exchange(ref _expiresAtMs, value?.ToUnixTimeMilliseconds() ?? 0);
    }

    /// <summary>The receive loop, once started after <c>welcome</c>.</summary>
    public Task<CloseInfo>? ReceiveLoop { get; set; }

    public ITimer? Watchdog { get; set; }

    public ITimer? RefreshTimer { get; set; }

    /// <summary>Set once the connection is over; requests registered after that fail at once.</summary>
    public bool Ended => _ended;

    public TimeSpan SinceLastFrame => time.GetElapsedTime(Interlocked.Read(ref _lastFrameTimestamp));

    /// <summary>Sends one frame: <paramref name="write"/> fills the envelope under the send lock.</summary>
    /// <exception cref="BrokerException"><see cref="BrokerException.Disconnected"/> when the socket is gone.</exception>
    public async ValueTask SendAsync<TState>(TState state, Func<FrameWriter, TState, long, ReadOnlyMemory<byte>> write, long id, CancellationToken cancellationToken)
    {
        await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_ended) throw Disconnected(null);
            var frame = write(_writer, state, id);
            // Never pass a token to the socket: a cancelled ClientWebSocket send aborts the socket.
            await Socket.SendAsync(frame, WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is WebSocketException or ObjectDisposedException or InvalidOperationException or IOException)
        {
            throw Disconnected(e);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>Sends a close frame (the server answers with its own, which ends the receive loop).</summary>
    public async Task CloseOutputAsync(WebSocketCloseStatus status, string? reason, TimeSpan timeout)
    {
        try
        {
            using var cts = new CancellationTokenSource(timeout);
            if (!await _sendLock.WaitAsync(timeout).ConfigureAwait(false)) return;
            try
            {
                if (Socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                    await Socket.CloseOutputAsync(status, reason, cts.Token).ConfigureAwait(false);
            }
            finally
            {
                _sendLock.Release();
            }
        }
        catch (Exception e) when (e is WebSocketException or ObjectDisposedException or InvalidOperationException or OperationCanceledException or IOException)
        {
            // The socket is gone already; the receive loop reports how.
        }
    }

    /// <summary>
    /// Receives one whole message into the reused buffer (valid until the next receive), or the
    /// type <see cref="WebSocketMessageType.Close"/> when the server closed.
    /// </summary>
    public async ValueTask<(ReadOnlyMemory<byte> Frame, WebSocketMessageType Type)> ReceiveAsync()
    {
        var length = 0;
        while (true)
        {
            if (length == _receiveBuffer.Length)
            {
                if (length >= maxFrameBytes) throw new FrameTooBigException(maxFrameBytes);
                Array.Resize(ref _receiveBuffer, (int)Math.Min((long)maxFrameBytes + 1, (long)_receiveBuffer.Length * 2));
            }
            var result = await Socket.ReceiveAsync(_receiveBuffer.AsMemory(length), CancellationToken.None).ConfigureAwait(false);
            length += result.Count;
            if (length > maxFrameBytes) throw new FrameTooBigException(maxFrameBytes);
            if (result.MessageType == WebSocketMessageType.Close) return (default, WebSocketMessageType.Close);
            if (result.EndOfMessage)
            {
                Interlocked.Exchange(ref _lastFrameTimestamp, time.GetTimestamp());
                return (_receiveBuffer.AsMemory(0, length), result.MessageType);
            }
        }
    }

    /// <summary>Kills the socket at once (watchdog, oversized frame); the receive loop then reports this code and reason.</summary>
    public void Abort(int code, string reason)
    {
        if (Interlocked.CompareExchange(ref _abortCode, code, 0) == 0) Volatile.Write(ref _abortReason, reason);
        Socket.Abort();
    }

    /// <summary>How the connection ended when the socket failed: the abort's code and reason, or 1006.</summary>
    public CloseInfo Failure(Exception? error) =>
        Volatile.Read(ref _abortCode) is var code and not 0
            ? new CloseInfo(code, Volatile.Read(ref _abortReason))
            : new CloseInfo(ClosePolicy.Abnormal, error?.Message);

    /// <summary>Marks the connection over and stops its timers (idempotent).</summary>
    public void MarkEnded()
    {
        _ended = true;
        Watchdog?.Dispose();
        RefreshTimer?.Dispose();
    }

    public void Dispose()
    {
        MarkEnded();
        Socket.Dispose();
    }

    private static BrokerException Disconnected(Exception? inner) =>
        new(BrokerException.Disconnected, "The connection dropped before the request was sent.", inner);
}
