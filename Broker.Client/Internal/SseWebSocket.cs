using System.Net;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text.Json;
using System.Threading.Channels;
using Broker.Client.Protocol;

namespace Broker.Client.Internal;

/// <summary>
/// The SSE fallback transport (PROTOCOL §9.4, docs/sse.md) as a <see cref="WebSocket"/>, so the
/// connection, receive loop, heartbeat, requests and recovery are the same code on both: a
/// streaming <c>GET /sse/{route}</c> is the receiving half (each event one text message, the final
/// <c>close</c> event the close frame), and what is sent goes out as <c>POST /sse/{route}/{session}</c>,
/// every frame queued meanwhile in one POST (a JSON array), one POST at a time so they stay in order.
/// </summary>
internal sealed class SseWebSocket : WebSocket
{
    /// <summary>At most this many envelopes per POST (the server's <c>Broker:Sse:MaxPostEnvelopes</c> default).</summary>
    public const int MaxPostEnvelopes = 100;

    private readonly HttpClient _http;
    private readonly Uri _streamUrl;
    private readonly Func<string?> _bearer;
    private readonly CancellationTokenSource _lifetime = new();
    private readonly Channel<byte[]> _outbound = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true });
    private Stream? _stream;
    private Uri? _postUrl;
    private WebSocketState _state = WebSocketState.None;
    private WebSocketCloseStatus? _closeStatus;
    private string? _closeDescription;
    private Exception? _postFailure;

    // The event being handed out by ReceiveAsync, and the parser's carry-over between reads.
    private byte[]? _event;
    private int _eventOffset;
    private readonly int _maxLineBytes;
    private byte[] _readBuffer = new byte[16 * 1024];
    private int _readStart, _readEnd;
    private readonly MemoryStream _data = new();
    private bool _hasData;

    /// <param name="maxFrameBytes">The largest frame accepted (<see cref="BrokerClientOptions.MaxFrameBytes"/>): a frame is one <c>data:</c> line, so it bounds a line.</param>
    public SseWebSocket(HttpClient http, Uri streamUrl, Func<string?> bearer, int maxFrameBytes)
    {
        // "data: " and the line end around the largest frame.
        _maxLineBytes = maxFrameBytes + 16;
        _http = http;
        _streamUrl = streamUrl;
        _bearer = bearer;
    }

    /// <summary>The HTTP status that refused the stream, if it was refused.</summary>
    public HttpStatusCode? RefusedWith { get; private set; }

    public override WebSocketCloseStatus? CloseStatus => _closeStatus;
    public override string? CloseStatusDescription => _closeDescription;
    public override WebSocketState State => _state;
    public override string? SubProtocol => null;

    /// <summary>
    /// Opens the stream and reads up to its first event, the <c>welcome</c> carrying the session
    /// id (kept for the next ReceiveAsync). An HTTP refusal throws with <see cref="RefusedWith"/> set.
    /// </summary>
    public async Task ConnectAsync(CancellationToken cancellationToken)
    {
        _state = WebSocketState.Connecting;
        using var request = new HttpRequestMessage(HttpMethod.Get, _streamUrl);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        request.Headers.CacheControl = new CacheControlHeaderValue { NoCache = true };
        if (_bearer() is { } token) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _lifetime.Token);
        var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, linked.Token).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            RefusedWith = response.StatusCode;
            response.Dispose();
            throw new WebSocketException(WebSocketError.NotAWebSocket, $"The SSE stream was refused (HTTP {(int)response.StatusCode}).");
        }
        _stream = await response.Content.ReadAsStreamAsync(linked.Token).ConfigureAwait(false);
        using var abort = linked.Token.Register(static s => ((SseWebSocket)s!).Abort(), this);
        var first = await NextEventAsync().ConfigureAwait(false)
            ?? throw new WebSocketException(WebSocketError.ConnectionClosedPrematurely, "The SSE stream ended before its welcome.");
        string? session = null;
        try
        {
            using var document = JsonDocument.Parse(first);
            if (document.RootElement.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Object
                && data.TryGetProperty("session", out var s) && s.ValueKind == JsonValueKind.String)
                session = s.GetString();
        }
        catch (JsonException)
        {
        }
        if (string.IsNullOrEmpty(session))
            throw new WebSocketException(WebSocketError.InvalidMessageType, "The SSE stream did not start with a welcome carrying a session.");
        _postUrl = new Uri(new UriBuilder(_streamUrl) { Query = "" }.Uri.GetLeftPart(UriPartial.Path).TrimEnd('/') + "/" + Uri.EscapeDataString(session));
        _event = first;
        _eventOffset = 0;
        _state = WebSocketState.Open;
        _ = PostLoopAsync();
    }

    public override async ValueTask<ValueWebSocketReceiveResult> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        if (_event is null)
        {
            byte[]? next;
            try
            {
                next = await NextEventAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or HttpRequestException or OperationCanceledException or ObjectDisposedException)
            {
                throw Dropped(e);
            }
            // FrameTooBigException passes through: the receive loop reports it as 1009.
            if (next is null) throw Dropped(null);
            if (TryReadClose(next, out var code, out var reason))
            {
                _closeStatus = (WebSocketCloseStatus)code;
                _closeDescription = reason;
                _state = WebSocketState.CloseReceived;
                return new ValueWebSocketReceiveResult(0, WebSocketMessageType.Close, endOfMessage: true);
            }
            _event = next;
            _eventOffset = 0;
        }
        var count = Math.Min(buffer.Length, _event.Length - _eventOffset);
        _event.AsMemory(_eventOffset, count).CopyTo(buffer);
        _eventOffset += count;
        var end = _eventOffset == _event.Length;
        if (end) _event = null;
        return new ValueWebSocketReceiveResult(count, WebSocketMessageType.Text, end);
    }

    public override Task<WebSocketReceiveResult> ReceiveAsync(ArraySegment<byte> buffer, CancellationToken cancellationToken) =>
        ReceiveAsync(buffer.AsMemory(), cancellationToken).AsTask()
            .ContinueWith(t => new WebSocketReceiveResult(t.Result.Count, t.Result.MessageType, t.Result.EndOfMessage), TaskScheduler.Default);

    /// <summary>Queues one whole frame for the next POST (like a socket's send, it returns once buffered).</summary>
    public override ValueTask SendAsync(ReadOnlyMemory<byte> buffer, WebSocketMessageType messageType, bool endOfMessage, CancellationToken cancellationToken)
    {
        if (_postFailure is { } failure) throw new WebSocketException(WebSocketError.ConnectionClosedPrematurely, failure.Message, failure);
        if (_state != WebSocketState.Open) throw new WebSocketException(WebSocketError.InvalidState, "The SSE session is not open.");
        if (!endOfMessage || messageType != WebSocketMessageType.Text) throw new NotSupportedException("The SSE transport sends whole text frames only.");
        _outbound.Writer.TryWrite(buffer.ToArray());
        return default;
    }

    public override Task SendAsync(ArraySegment<byte> buffer, WebSocketMessageType messageType, bool endOfMessage, CancellationToken cancellationToken) =>
        SendAsync(buffer.AsMemory(), messageType, endOfMessage, cancellationToken).AsTask();

    /// <summary>Ends the stream, which ends the session on the server (docs/sse.md: one GET is one session).</summary>
    public override Task CloseOutputAsync(WebSocketCloseStatus closeStatus, string? statusDescription, CancellationToken cancellationToken)
    {
        Abort();
        return Task.CompletedTask;
    }

    public override Task CloseAsync(WebSocketCloseStatus closeStatus, string? statusDescription, CancellationToken cancellationToken) =>
        CloseOutputAsync(closeStatus, statusDescription, cancellationToken);

    public override void Abort()
    {
        if (_state is not (WebSocketState.Closed or WebSocketState.CloseReceived)) _state = WebSocketState.Aborted;
        _outbound.Writer.TryComplete();
        if (!_lifetime.IsCancellationRequested) _lifetime.Cancel();
        _stream?.Dispose();
    }

    public override void Dispose()
    {
        Abort();
        _state = WebSocketState.Closed;
    }

    // ---- the POSTs ----

    private async Task PostLoopAsync()
    {
        var batch = new List<byte[]>(MaxPostEnvelopes);
        var reader = _outbound.Reader;
        try
        {
            while (await reader.WaitToReadAsync(_lifetime.Token).ConfigureAwait(false))
            {
                batch.Clear();
                while (batch.Count < MaxPostEnvelopes && reader.TryRead(out var frame)) batch.Add(frame);
                if (batch.Count > 0) await PostAsync(batch).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (_lifetime.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            // The session is unusable: end the stream, so the receive loop reports the drop.
            _postFailure = e;
            Abort();
        }
    }

    private async Task PostAsync(List<byte[]> batch)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, _postUrl);
        request.Content = new ByteArrayContent(Body(batch));
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        if (_bearer() is { } token) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await _http.SendAsync(request, _lifetime.Token).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.Accepted) return;
        // 400: nothing of the body was applied and the session stays. Its requests time out
        // rather than hang; the app sees why.
        if (response.StatusCode == HttpStatusCode.BadRequest) return;
        throw new HttpRequestException($"A POST to the SSE session answered HTTP {(int)response.StatusCode}.", null, response.StatusCode);
    }

    private static byte[] Body(List<byte[]> batch)
    {
        if (batch.Count == 1) return batch[0];
        var length = 1 + batch.Count;
        foreach (var frame in batch) length += frame.Length;
        var body = new byte[length];
        body[0] = (byte)'[';
        var at = 1;
        for (var i = 0; i < batch.Count; i++)
        {
            if (i > 0) body[at++] = (byte)',';
            batch[i].CopyTo(body, at);
            at += batch[i].Length;
        }
        body[at] = (byte)']';
        return body;
    }

    // ---- the event stream ----

    /// <summary>The next event's data (its <c>data:</c> lines joined by LF), or null at the end of the stream.</summary>
    private async ValueTask<byte[]?> NextEventAsync()
    {
        while (true)
        {
            // Lines already buffered first; only then read more.
            while (TryTakeLine(out var line))
            {
                if (line.Length == 0)
                {
                    if (!_hasData) continue;
                    var data = _data.ToArray();
                    _data.SetLength(0);
                    _hasData = false;
                    return data;
                }
                if (line[0] == (byte)':') continue;
                var colon = line.IndexOf((byte)':');
                var field = colon < 0 ? line : line[..colon];
                if (!field.SequenceEqual("data"u8)) continue;
                var value = colon < 0 ? ReadOnlySpan<byte>.Empty : line[(colon + 1)..];
                if (value.Length > 0 && value[0] == (byte)' ') value = value[1..];
                if (_hasData) _data.WriteByte((byte)'\n');
                _data.Write(value);
                _hasData = true;
            }
            if (_readStart > 0)
            {
                Buffer.BlockCopy(_readBuffer, _readStart, _readBuffer, 0, _readEnd - _readStart);
                _readEnd -= _readStart;
                _readStart = 0;
            }
            if (_readEnd == _readBuffer.Length)
            {
                // A line longer than the buffer: a big frame. Grow up to the frame limit, as the
                // WebSocket receive does; past it the connection is dropped as too big.
                if (_readBuffer.Length >= _maxLineBytes) throw new FrameTooBigException(_maxLineBytes - 16);
                Array.Resize(ref _readBuffer, (int)Math.Min(_maxLineBytes, (long)_readBuffer.Length * 2));
            }
            var read = await _stream!.ReadAsync(_readBuffer.AsMemory(_readEnd), _lifetime.Token).ConfigureAwait(false);
            if (read == 0) return null;
            _readEnd += read;
        }
    }

    private bool TryTakeLine(out ReadOnlySpan<byte> line)
    {
        var pending = _readBuffer.AsSpan(_readStart, _readEnd - _readStart);
        var end = pending.IndexOfAny((byte)'\n', (byte)'\r');
        // A CR at the very end may be the first half of a CRLF: wait for the next byte.
        if (end < 0 || (pending[end] == (byte)'\r' && end == pending.Length - 1))
        {
            line = default;
            return false;
        }
        line = pending[..end];
        var consumed = end + 1;
        if (pending[end] == (byte)'\r' && pending[end + 1] == (byte)'\n') consumed++;
        _readStart += consumed;
        return true;
    }

    private static bool TryReadClose(byte[] data, out int code, out string? reason)
    {
        code = 0;
        reason = null;
        // The broker's own last event; a cheap test first keeps a second parse off the others.
        if (data.AsSpan().IndexOf("\"close\""u8) < 0) return false;
        try
        {
            using var document = JsonDocument.Parse(data);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("type", out var type) || type.GetString() != "close") return false;
            if (root.TryGetProperty("data", out var d) && d.ValueKind == JsonValueKind.Object)
            {
                if (d.TryGetProperty("code", out var c) && c.TryGetInt32(out var n)) code = n;
                if (d.TryGetProperty("reason", out var r) && r.ValueKind == JsonValueKind.String) reason = r.GetString();
            }
            if (code == 0) code = ClosePolicy.Abnormal;
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private WebSocketException Dropped(Exception? inner)
    {
        _state = WebSocketState.Aborted;
        var cause = _postFailure ?? inner;
        return new WebSocketException(WebSocketError.ConnectionClosedPrematurely, cause?.Message ?? "The SSE stream ended without a close event.", cause);
    }

    /// <summary><c>ws(s)://host/…/ws/{route}</c> → <c>http(s)://host/…/sse/{route}</c>: the last <c>/ws/</c> segment becomes <c>/sse/</c>.</summary>
    public static Uri StreamUrlFor(Uri webSocketUrl)
    {
        var builder = new UriBuilder(webSocketUrl) { Scheme = webSocketUrl.Scheme == "wss" ? "https" : "http" };
        var path = builder.Path;
        var at = path.LastIndexOf("/ws/", StringComparison.Ordinal);
        if (at < 0) throw new ArgumentException($"Cannot derive the SSE url from {webSocketUrl.GetLeftPart(UriPartial.Path)}: no /ws/ segment (set BrokerClientOptions.SseUrl).");
        builder.Path = path[..at] + "/sse/" + path[(at + 4)..];
        return builder.Uri;
    }
}
