using System.Buffers;
using System.Diagnostics;
using System.Net.WebSockets;

namespace Broker.Bench.Load;

/// <summary>What a lean client does with each record it receives (pings are answered before this).</summary>
public interface IRecordSink
{
    void OnRecord(ReadOnlySpan<byte> record);
}

/// <summary>A sink that keeps nothing: for connections that only hold the line and answer heartbeats.</summary>
public sealed class IgnoreRecords : IRecordSink
{
    public static readonly IgnoreRecords Instance = new();
    public void OnRecord(ReadOnlySpan<byte> record) { }
}

public delegate bool SpanPredicate(ReadOnlySpan<byte> record);

/// <summary>
/// The load generator's connection: a bare <see cref="ClientWebSocket"/> reading with zero-byte
/// reads (no buffer held while idle, a pooled one only while a message is read), so 10k–50k of
/// them fit beside the servers. Answers heartbeats unless told to go silent, can stop reading
/// altogether (a slow consumer), and records when and how the server closed it.
/// </summary>
public sealed class LeanClient : IAsyncDisposable
{
    private readonly ClientWebSocket _socket;
    private readonly Dialect _dialect;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly TaskCompletionSource _resume = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _paused;

    private LeanClient(ClientWebSocket socket, Dialect dialect)
    {
        _socket = socket;
        _dialect = dialect;
    }

    /// <summary>Answer server pings (false: the client goes silent, as a dead peer would).</summary>
    public bool AnswerPings { get; set; } = true;

    /// <summary>Stopwatch timestamp when the receive loop ended (close frame, abort, or reset); 0 while open.</summary>
    public long ClosedAt { get; private set; }

    /// <summary>The close status the server sent, if a close frame arrived.</summary>
    public WebSocketCloseStatus? CloseStatus { get; private set; }

    /// <summary>The close reason the server sent with <see cref="CloseStatus"/>.</summary>
    public string? CloseDescription { get; private set; }

    public WebSocketState State => _socket.State;

    /// <summary>Stopwatch timestamp of the last message received (pings included): a client's watchdog for a silent server.</summary>
    public long LastReceivedAt => Volatile.Read(ref _lastReceivedAt);
    private long _lastReceivedAt = Stopwatch.GetTimestamp();

    /// <summary>Connects (from the source address for connection <paramref name="index"/>), says hello and waits for the welcome.</summary>
    public static async Task<LeanClient> ConnectAsync(Dialect dialect, Uri endpoint, string token, int index,
        CancellationToken cancellationToken, int receiveBuffer = 0)
    {
        var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = TimeSpan.Zero; // heartbeats are the protocol's
        var client = new LeanClient(socket, dialect);
        try
        {
            await socket.ConnectAsync(dialect.ConnectUri(endpoint, token), ClientSockets.For(index, receiveBuffer), cancellationToken);
            await client.SendAsync(dialect.Hello(token), cancellationToken);
            await client.ReadUntilAsync(dialect.IsWelcome, cancellationToken);
            return client;
        }
        catch
        {
            socket.Abort();
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Joins <paramref name="room"/> and waits for the confirmation.</summary>
    public async Task JoinAsync(string room, CancellationToken cancellationToken)
    {
        await SendAsync(_dialect.Join(room), cancellationToken);
        await ReadUntilAsync(_dialect.IsJoined, cancellationToken);
    }

    public async ValueTask SendAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        await _sendLock.WaitAsync(cancellationToken);
        try
        {
            await _socket.SendAsync(frame, WebSocketMessageType.Text, endOfMessage: true, cancellationToken);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>Stops reading (the kernel buffers fill, then the server's queue): a slow consumer.</summary>
    public void Pause() => _paused = true;

    /// <summary>Reads until the socket closes, answering pings and handing every other record to <paramref name="sink"/>.</summary>
    public async Task RunAsync(IRecordSink sink, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                if (_paused) await _resume.Task.WaitAsync(cancellationToken);
                // Zero-byte read: wait for data without holding a buffer.
                var first = await _socket.ReceiveAsync(Memory<byte>.Empty, cancellationToken);
                if (first.MessageType == WebSocketMessageType.Close) break;
                if (_paused) await _resume.Task.WaitAsync(cancellationToken);
                var (buffer, count, closed) = await ReadMessageAsync(first.EndOfMessage, cancellationToken);
                if (closed) break;
                Volatile.Write(ref _lastReceivedAt, Stopwatch.GetTimestamp());
                try
                {
                    var pinged = Dispatch(buffer.AsSpan(0, count), sink);
                    if (pinged && AnswerPings) await SendAsync(_dialect.PongFrame, cancellationToken);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
        {
        }
        finally
        {
            CloseStatus = _socket.CloseStatus;
            CloseDescription = _socket.CloseStatusDescription;
            ClosedAt = Stopwatch.GetTimestamp();
        }
    }

    /// <summary>Hands each record of a message to the sink (SignalR may batch several); true when one was a ping.</summary>
    private bool Dispatch(ReadOnlySpan<byte> message, IRecordSink sink)
    {
        var pinged = false;
        while (message.Length > 0)
        {
            var end = _dialect.IsSignalR ? message.IndexOf((byte)0x1E) : -1;
            var record = end < 0 ? message : message[..end];
            message = end < 0 ? default : message[(end + 1)..];
            if (record.Length == 0) continue;
            if (_dialect.IsPing(record)) pinged = true;
            else sink.OnRecord(record);
        }
        return pinged;
    }

    /// <summary>Reads messages until one satisfies <paramref name="match"/> (set-up only); an error frame fails.</summary>
    private async Task ReadUntilAsync(SpanPredicate match, CancellationToken cancellationToken)
    {
        while (true)
        {
            var (buffer, count, closed) = await ReadMessageAsync(false, cancellationToken);
            if (closed) throw new WebSocketException($"closed during set-up ({_socket.CloseStatus} {_socket.CloseStatusDescription})");
            try
            {
                if (Matches(buffer.AsSpan(0, count), match)) return;
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    private bool Matches(ReadOnlySpan<byte> message, SpanPredicate match)
    {
        while (message.Length > 0)
        {
            var end = _dialect.IsSignalR ? message.IndexOf((byte)0x1E) : -1;
            var record = end < 0 ? message : message[..end];
            message = end < 0 ? default : message[(end + 1)..];
            if (match(record)) return true;
            if (_dialect.IsError(record)) throw new InvalidOperationException("server refused: " + System.Text.Encoding.UTF8.GetString(record));
        }
        return false;
    }

    /// <summary>Reads the rest of one message into a pooled buffer (the caller returns it).</summary>
    private async ValueTask<(byte[] Buffer, int Count, bool Closed)> ReadMessageAsync(bool alreadyEnded, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(4096);
        var count = 0;
        var end = alreadyEnded;
        var started = alreadyEnded;
        while (!end || !started)
        {
            if (count == buffer.Length)
            {
                var bigger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                buffer.AsSpan(0, count).CopyTo(bigger);
                ArrayPool<byte>.Shared.Return(buffer);
                buffer = bigger;
            }
            var result = await _socket.ReceiveAsync(buffer.AsMemory(count), cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                ArrayPool<byte>.Shared.Return(buffer);
                return ([], 0, true);
            }
            started = true;
            count += result.Count;
            end = result.EndOfMessage;
        }
        return (buffer, count, false);
    }

    /// <summary>Closes politely if the socket is still open, within a short deadline, then aborts.</summary>
    public async Task CloseAsync()
    {
        if (_socket.State == WebSocketState.Open)
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try { await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", deadline.Token); }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException) { }
        }
        _socket.Abort();
    }

    public async ValueTask DisposeAsync()
    {
        await CloseAsync();
        _socket.Dispose();
        _sendLock.Dispose();
    }
}
