using System.Net;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text.Json;
using Broker.Client.Internal;
using Broker.Client.Protocol;

namespace Broker.Client;

// Opening connections, the supervisor that reconnects, heartbeat watchdog and token refresh.
public sealed partial class BrokerClient
{
    /// <summary>Waits (up to what is left of the request timeout) until the client is connected.</summary>
    private async ValueTask<BrokerConnection> WaitForConnectionAsync(long start, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task<BrokerConnection?> ready;
            lock (_gate)
            {
                switch (_state)
                {
                    case BrokerClientState.Connected:
                        return _connection!;
                    case BrokerClientState.Closed:
                        throw new BrokerException(BrokerException.Closed, "The client is closed.");
                    case BrokerClientState.Disconnected:
                        throw new InvalidOperationException("Call ConnectAsync first.");
                }
                ready = _ready.Task;
            }
            var remaining = _options.RequestTimeout - _time.GetElapsedTime(start);
            if (remaining <= TimeSpan.Zero) throw NotConnectedInTime();
            try
            {
                await ready.WaitAsync(remaining, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                throw NotConnectedInTime();
            }
        }
    }

    private TimeoutException NotConnectedInTime() => new($"Not connected within {_options.RequestTimeout}.");

    /// <summary>
    /// An app request: <see cref="SendAndWaitAsync"/>, and again after a backoff while the server
    /// answers <c>unavailable</c> and <see cref="BrokerClientOptions.Retry"/> allows. A retry waits its
    /// turn behind the requests made meanwhile, so it may land after them.
    /// </summary>
    private async Task<Reply> RequestAsync<TState>(
        ReplyKind kind, string? room, long start, string what, TState state,
        Func<FrameWriter, TState, long, ReadOnlyMemory<byte>> write, CancellationToken cancellationToken)
    {
        var first = start;
        for (var attempts = 1; ; attempts++)
        {
            try
            {
                return await SendAndWaitAsync(kind, room, start, what, state, write, cancellationToken).ConfigureAwait(false);
            }
            catch (BrokerException e) when (e.Code == ErrorCodes.Unavailable && RetryPolicy.Retries(kind))
            {
                if (!_retry.TryNext(attempts, _time.GetElapsedTime(first), out var delay)) throw;
                await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
                // A room left while its join waited must not be joined again behind the leave.
                if (kind == ReplyKind.Joined && !IsTracked(room!)) throw;
                start = _time.GetTimestamp(); // each attempt gets the whole request timeout
            }
        }
    }

    private bool IsTracked(string room)
    {
        lock (_rooms) return _rooms.Find(room) is not null;
    }

    /// <summary>
    /// One attempt: waits its turn (call order) and for a connection, sends, then waits for the
    /// reply, all within the request timeout counted from <paramref name="start"/>.
    /// </summary>
    private async Task<Reply> SendAndWaitAsync<TState>(
        ReplyKind kind, string? room, long start, string what, TState state,
        Func<FrameWriter, TState, long, ReadOnlyMemory<byte>> write, CancellationToken cancellationToken)
    {
        // One at a time from here to the socket, in arrival order (SemaphoreSlim queues async
        // waiters first in, first out): publishes queued during a reconnection leave in call order.
        var turn = _options.RequestTimeout - _time.GetElapsedTime(start);
        if (turn <= TimeSpan.Zero || !await _requestOrder.WaitAsync(turn, cancellationToken).ConfigureAwait(false))
            throw new TimeoutException($"No reply to {what} within {_options.RequestTimeout}.");
        PendingRequest request;
        try
        {
            var connection = await WaitForConnectionAsync(start, cancellationToken).ConfigureAwait(false);
            request = await SendRequestAsync(connection, kind, room, state, write, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _requestOrder.Release();
        }
        return await WaitForReplyAsync(request, start, what, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A request on one given connection (the token refresh): not queued behind app requests.</summary>
    private async Task<Reply> RequestAsync<TState>(
        BrokerConnection connection, ReplyKind kind, long start, string what, TState state,
        Func<FrameWriter, TState, long, ReadOnlyMemory<byte>> write, CancellationToken cancellationToken)
    {
        var request = await SendRequestAsync(connection, kind, null, state, write, cancellationToken).ConfigureAwait(false);
        return await WaitForReplyAsync(request, start, what, cancellationToken).ConfigureAwait(false);
    }

    private Task<Reply> WaitForReplyAsync(PendingRequest request, long start, string what, CancellationToken cancellationToken)
    {
        var remaining = _options.RequestTimeout - _time.GetElapsedTime(start);
        if (remaining < TimeSpan.FromMilliseconds(1)) remaining = TimeSpan.FromMilliseconds(1);
        return _pending.WaitAsync(request, remaining, what, cancellationToken);
    }

    private async ValueTask<PendingRequest> SendRequestAsync<TState>(
        BrokerConnection connection, ReplyKind kind, string? room, TState state,
        Func<FrameWriter, TState, long, ReadOnlyMemory<byte>> write, CancellationToken cancellationToken)
    {
        var request = _pending.Add(kind, room);
        try
        {
            // The supervisor marks the connection ended before failing every pending request, so a
            // request added after that sweep sees the mark here.
            if (connection.Ended) throw new BrokerException(BrokerException.Disconnected, "The connection dropped before the request was sent.");
            await connection.SendAsync(state, write, request.Id, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            _pending.Remove(request);
            throw;
        }
        return request;
    }

    // The fallback's state (BrokerTransport.Auto); only touched by the connect path, one at a time.
    private BrokerTransport _preferred = BrokerTransport.WebSocket;
    private int _webSocketFailures;
    private long? _sseSince; // when SSE first got a welcome since the switch
    private bool _attemptOpened;
    private bool _socketTried; // the attempt got past its token and ticket to a socket or stream
    private volatile string? _bearer; // the latest token: any valid one of the user authorizes SSE POSTs

    /// <summary>
    /// One connection attempt up to <c>welcome</c> on the transport the fallback rules pick, and at
    /// once a second one on the other transport when this attempt's failure makes them switch.
    /// </summary>
    private async Task<BrokerConnection> OpenAsync(CancellationToken cancellationToken)
    {
        for (var tries = 0; ; tries++)
        {
            var transport = NextTransport();
            Transport = transport;
            try
            {
                var connection = await OpenOnceAsync(transport, cancellationToken).ConfigureAwait(false);
                if (_options.Transport == BrokerTransport.Auto)
                {
                    if (transport == BrokerTransport.WebSocket)
                    {
                        _preferred = BrokerTransport.WebSocket;
                        _webSocketFailures = 0;
                        _sseSince = null;
                    }
                    else
                    {
                        _sseSince ??= _time.GetTimestamp();
                    }
                }
                return connection;
            }
            catch (ConnectFailure failure) when (AgainAtOnce(transport, failure, tries, cancellationToken))
            {
            }
        }
    }

    /// <summary>
    /// Auto: whether to try again within this attempt, without a backoff: a WebSocket that never
    /// opened, until <see cref="BrokerClientOptions.FallbackAfter"/> of them in a row, and then the
    /// other transport, which has not failed yet. So even the first <see cref="ConnectAsync"/>
    /// (which does not retry) falls back.
    /// </summary>
    private bool AgainAtOnce(BrokerTransport transport, ConnectFailure failure, int tries, CancellationToken cancellationToken)
    {
        // A refused token or ticket, or a server that answered the upgrade with 401/403, says
        // nothing about whether WebSockets get through.
        if (!_socketTried || failure.Code != ClosePolicy.Abnormal)
        {
            if (_socketTried && transport == BrokerTransport.WebSocket) _webSocketFailures = 0;
            return false;
        }
        var switched = LearnFromFailure(transport);
        if (cancellationToken.IsCancellationRequested || tries >= Math.Max(1, _options.FallbackAfter)) return false;
        return switched || (_options.Transport == BrokerTransport.Auto && transport == BrokerTransport.WebSocket
            && !_attemptOpened && _preferred == BrokerTransport.WebSocket);
    }

    private BrokerTransport NextTransport()
    {
        if (_options.Transport != BrokerTransport.Auto) return _options.Transport;
        if (_preferred == BrokerTransport.Sse && _sseSince is { } since && _time.GetElapsedTime(since) >= _options.RetryWebSocketAfter)
            return BrokerTransport.WebSocket;
        return _preferred;
    }

    /// <summary>
    /// Auto: a WebSocket that never opened <see cref="BrokerClientOptions.FallbackAfter"/> times in a
    /// row moves to SSE; a WebSocket retry from SSE that fails goes back to SSE; an SSE attempt that
    /// fails before any SSE welcome goes back to WebSocket (the broker was likely down, not blocked).
    /// True when the next attempt uses the other transport.
    /// </summary>
    private bool LearnFromFailure(BrokerTransport transport)
    {
        if (_options.Transport != BrokerTransport.Auto) return false;
        var before = NextTransport();
        if (transport == BrokerTransport.WebSocket)
        {
            if (_attemptOpened) _webSocketFailures = 0;
            else if (_preferred == BrokerTransport.Sse) _sseSince = _time.GetTimestamp();
            else if (++_webSocketFailures >= Math.Max(1, _options.FallbackAfter))
            {
                _preferred = BrokerTransport.Sse;
                _sseSince = null;
            }
        }
        else if (!_attemptOpened && _sseSince is null)
        {
            _preferred = BrokerTransport.WebSocket;
            _webSocketFailures = 0;
        }
        return NextTransport() != before;
    }

    /// <summary>
    /// One connection attempt up to <c>welcome</c>, bounded by the request timeout. Failures come out
    /// as <see cref="ConnectFailure"/> carrying the close code (or 4401/4403 for an HTTP 401/403).
    /// </summary>
    private async Task<BrokerConnection> OpenOnceAsync(BrokerTransport transport, CancellationToken cancellationToken)
    {
        _attemptOpened = false;
        _socketTried = false;
        using var deadline = new CancellationTokenSource(_options.RequestTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        var token = linked.Token;
        try
        {
            string? jwt = null;
            if (_options.TokenProvider is { } provider)
            {
                try
                {
                    jwt = await provider(token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    throw new ConnectFailure(ClosePolicy.Abnormal, "The token provider failed: " + e.Message, e);
                }
            }

            _bearer = jwt;
            var uri = transport == BrokerTransport.Sse ? _options.SseUrl ?? SseWebSocket.StreamUrlFor(_options.Url!) : _options.Url!;
            if (_options.Authentication == BrokerAuthentication.Ticket)
            {
                var ticket = await FetchTicketAsync(jwt!, token).ConfigureAwait(false);
                uri = WithQuery(uri, "ticket=" + Uri.EscapeDataString(ticket));
            }
            _socketTried = true;
            if (transport == BrokerTransport.Sse) return await OpenSseAsync(uri, token).ConfigureAwait(false);

            var socket = new ClientWebSocket();
            socket.Options.CollectHttpResponseDetails = true;
            // The protocol has its own heartbeat (server ping, client watchdog).
            socket.Options.KeepAliveInterval = TimeSpan.Zero;
            _options.ConfigureWebSocket?.Invoke(socket.Options);
            var connection = new BrokerConnection(socket, _options.MaxFrameBytes, _time);
            try
            {
                try
                {
                    await socket.ConnectAsync(uri, token).ConfigureAwait(false);
                    _attemptOpened = true;
                }
                catch (Exception e) when (e is WebSocketException or HttpRequestException or IOException)
                {
                    throw socket.HttpStatusCode switch
                    {
                        HttpStatusCode.Unauthorized => new ConnectFailure(CloseCodes.Unauthorized, "HTTP 401 at the handshake", e, ErrorCodes.Unauthorized),
                        HttpStatusCode.Forbidden => new ConnectFailure(CloseCodes.Forbidden, "HTTP 403 at the handshake", e, ErrorCodes.Forbidden),
                        _ => new ConnectFailure(ClosePolicy.Abnormal, e.Message, e),
                    };
                }

                // A ClientWebSocket receive cannot be cancelled without aborting the socket, which is what the deadline wants.
                using var abortOnDeadline = token.Register(static s => ((ClientWebSocket)s!).Abort(), socket);
                if (_options.Authentication == BrokerAuthentication.FirstMessage && jwt is not null)
                    await connection.SendAsync(jwt, static (w, t, _) => WriteAuth(w, t, 0), 0, token).ConfigureAwait(false);
                return await ReadWelcomeAsync(connection).ConfigureAwait(false);
            }
            catch
            {
                connection.Dispose();
                throw;
            }
        }
        catch (Exception e) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested && e is not ConnectFailure { Code: not ClosePolicy.Abnormal })
        {
            var timeout = new TimeoutException($"No welcome within {_options.RequestTimeout}.", e);
            throw new ConnectFailure(ClosePolicy.Abnormal, timeout.Message, timeout);
        }
        catch (BrokerException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ConnectFailure(ClosePolicy.Abnormal, e.Message, e);
        }
    }

    /// <summary>The SSE stream up to its welcome (authenticated by its GET: no auth frame).</summary>
    private async Task<BrokerConnection> OpenSseAsync(Uri uri, CancellationToken token)
    {
        _sseHttp ??= _options.HttpMessageHandler is { } handler
            ? new HttpClient(handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan }
            : new HttpClient(new SocketsHttpHandler(), disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };
        var socket = new SseWebSocket(_sseHttp, uri, () => _bearer, _options.MaxFrameBytes);
        var connection = new BrokerConnection(socket, _options.MaxFrameBytes, _time);
        try
        {
            try
            {
                await socket.ConnectAsync(token).ConfigureAwait(false);
                _attemptOpened = true;
            }
            catch (Exception e) when (e is WebSocketException or HttpRequestException or IOException)
            {
                throw socket.RefusedWith switch
                {
                    HttpStatusCode.Unauthorized => new ConnectFailure(CloseCodes.Unauthorized, "HTTP 401 on the SSE stream", e, ErrorCodes.Unauthorized),
                    HttpStatusCode.Forbidden => new ConnectFailure(CloseCodes.Forbidden, "HTTP 403 on the SSE stream", e, ErrorCodes.Forbidden),
                    // Not served (an older broker, a proxy): final when SSE was asked for; Auto goes back to WebSocket.
                    HttpStatusCode.NotFound or HttpStatusCode.NotAcceptable or HttpStatusCode.BadRequest when _options.Transport == BrokerTransport.Sse
                        => new ConnectFailure(4000 + (int)socket.RefusedWith!.Value, e.Message, e),
                    _ => new ConnectFailure(ClosePolicy.Abnormal, e.Message, e),
                };
            }
            return await ReadWelcomeAsync(connection).ConfigureAwait(false);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private static async Task<BrokerConnection> ReadWelcomeAsync(BrokerConnection connection)
    {
        string? errorCode = null, errorMessage = null;
        while (true)
        {
            ReadOnlyMemory<byte> frame;
            WebSocketMessageType type;
            try
            {
                (frame, type) = await connection.ReceiveAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is WebSocketException or IOException or ObjectDisposedException or OperationCanceledException or FrameTooBigException)
            {
                throw new ConnectFailure(ClosePolicy.Abnormal, errorMessage ?? e.Message, e, errorCode);
            }
            if (type == WebSocketMessageType.Close)
            {
                var code = connection.Socket.CloseStatus is { } status ? (int)status : (int)WebSocketCloseStatus.Empty;
                var reason = connection.Socket.CloseStatusDescription;
                await connection.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, TimeSpan.FromSeconds(1)).ConfigureAwait(false);
                throw new ConnectFailure(code, errorMessage ?? reason, null, errorCode);
            }
            if (type != WebSocketMessageType.Text
                || !InboundFrame.TryReadEnvelope(frame.Span, out var kind, out _, out var dataStart, out var dataLength))
                continue;
            var data = frame.Slice(dataStart, dataLength).Span;
            switch (kind)
            {
                case InboundType.Welcome:
                    var welcome = ParseWelcome(data);
                    connection.Welcome = welcome;
                    connection.ExpiresAt = welcome.ExpiresAt;
                    return connection;
                case InboundType.Error:
                    var error = InboundFrame.Element(data);
                    errorCode = InboundFrame.String(error, "code");
                    errorMessage = InboundFrame.String(error, "message");
                    break;
            }
        }
    }

    private static Welcome ParseWelcome(ReadOnlySpan<byte> data)
    {
        var e = InboundFrame.Element(data);
        DateTimeOffset? expiresAt = e.TryGetProperty("expiresAt", out var exp) && exp.ValueKind == JsonValueKind.Number
            ? DateTimeOffset.FromUnixTimeMilliseconds(exp.GetInt64())
            : null;
        long interval = 0, timeout = 0;
        if (e.TryGetProperty("heartbeat", out var heartbeat))
        {
            interval = InboundFrame.Number(heartbeat, "interval");
            timeout = InboundFrame.Number(heartbeat, "timeout");
        }
        return new Welcome(
            InboundFrame.String(e, "connection") ?? "",
            InboundFrame.String(e, "user") ?? "",
            InboundFrame.String(e, "node") ?? "",
            expiresAt,
            TimeSpan.FromMilliseconds(interval),
            TimeSpan.FromMilliseconds(timeout));
    }

    private async Task<string> FetchTicketAsync(string jwt, CancellationToken cancellationToken)
    {
        _http ??= _options.HttpMessageHandler is { } handler
            ? new HttpClient(handler, disposeHandler: false)
            : new HttpClient(new SocketsHttpHandler(), disposeHandler: true);
        var url = _options.TicketUrl ?? DefaultTicketUrl(_options.Url!);
        using var request = new HttpRequestMessage(HttpMethod.Post, url);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", jwt);
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new ConnectFailure(ClosePolicy.Abnormal, "The ticket request failed: " + e.Message, e);
        }
        using (response)
        {
            switch (response.StatusCode)
            {
                case HttpStatusCode.Unauthorized:
                    throw new ConnectFailure(CloseCodes.Unauthorized, "The ticket request was refused (HTTP 401).", null, ErrorCodes.Unauthorized);
                case HttpStatusCode.Forbidden:
                    throw new ConnectFailure(CloseCodes.Forbidden, "The ticket request was refused (HTTP 403).", null, ErrorCodes.Forbidden);
            }
            if (!response.IsSuccessStatusCode)
                throw new ConnectFailure(ClosePolicy.Abnormal, $"The ticket request failed (HTTP {(int)response.StatusCode}).");
            var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                using var document = JsonDocument.Parse(body);
                return InboundFrame.String(document.RootElement, "ticket")
                    ?? throw new ConnectFailure(ClosePolicy.Abnormal, "The ticket response has no ticket.");
            }
            catch (JsonException e)
            {
                throw new ConnectFailure(ClosePolicy.Abnormal, "The ticket response is not JSON.", e);
            }
        }
    }

    /// <summary><c>http(s)://host:port/auth/ticket</c> for a <c>ws(s)://host:port/…</c> URL.</summary>
    internal static Uri DefaultTicketUrl(Uri url) =>
        new UriBuilder(url) { Scheme = url.Scheme == "wss" ? "https" : "http", Path = "/auth/ticket", Query = "", Fragment = "" }.Uri;

    private static Uri WithQuery(Uri uri, string parameter)
    {
        var builder = new UriBuilder(uri);
        builder.Query = string.IsNullOrEmpty(builder.Query) || builder.Query == "?" ? parameter : builder.Query.TrimStart('?') + "&" + parameter;
        return builder.Uri;
    }

    private static ReadOnlyMemory<byte> WriteAuth(FrameWriter w, string token, long id)
    {
        var json = w.Begin(FrameTypes.Auth, id);
        json.WriteStartObject("data"u8);
        json.WriteString("token"u8, token);
        return w.EndWithData();
    }

    /// <summary>
    /// After <c>welcome</c>: starts the receive loop, watchdog and refresh, rejoins every room with
    /// its <c>since</c>, then opens the gate for requests. False when the client was closed meanwhile.
    /// </summary>
    private async Task<bool> OnConnectedAsync(BrokerConnection connection, CancellationTokenSource lifetime)
    {
        lock (_gate)
        {
            if (lifetime.IsCancellationRequested)
            {
                connection.Dispose();
                return false;
            }
            _connection = connection; // so that CloseAsync closes it from here on
        }
        Welcome = connection.Welcome;
        _backoff.Reset();
        _retriedWithNewToken = false;
        connection.ReceiveLoop = ReceiveLoopAsync(connection);
        StartWatchdog(connection);
        ScheduleRefresh(connection);

        // Only rooms whose join succeeded: a join that was in flight failed with "disconnected",
        // and its caller decides whether to try again.
        var joins = new List<(string Room, string? Epoch, long Offset)>();
        lock (_rooms)
        {
            foreach (var cursor in _rooms.Snapshot())
            {
                if (!cursor.Joined) continue;
                joins.Add((cursor.Room, cursor.Epoch, cursor.Offset));
                _rooms.BeginJoin(cursor.Room);
            }
        }
        // Sent before any queued request: the server handles a connection's frames in order, so a
        // publish waiting for the reconnection reaches the room after its rejoin.
        foreach (var join in joins)
        {
            var request = _pending.Add(ReplyKind.Joined, join.Room, rejoin: true);
            try
            {
                if (connection.Ended) throw new BrokerException(BrokerException.Disconnected, "dropped");
                await connection.SendAsync(join, static (w, j, id) => WriteJoin(w, j.Room, j.Epoch, j.Offset, id),
                    request.Id, CancellationToken.None).ConfigureAwait(false);
            }
            catch (BrokerException)
            {
                _pending.Remove(request);
                break; // the connection is gone; the supervisor takes it from here
            }
            _ = WatchRejoinAsync(connection, request, join);
        }

        lock (_gate)
        {
            if (lifetime.IsCancellationRequested || _connection != connection) return false;
            _state = BrokerClientState.Connected;
            _ready.TrySetResult(connection);
        }
        RaiseStateChanged(BrokerClientState.Connected);
        return true;
    }

    private async Task WatchRejoinAsync(BrokerConnection connection, PendingRequest request, (string Room, string? Epoch, long Offset) join)
    {
        try
        {
            var first = _time.GetTimestamp();
            for (var attempts = 1; ; attempts++)
            {
                try
                {
                    await _pending.WaitAsync(request, _options.RequestTimeout, "rejoin of " + request.Room, CancellationToken.None).ConfigureAwait(false);
                    return;
                }
                catch (Exception e) when (e is TimeoutException || e is BrokerException { Code: ErrorCodes.Unavailable })
                {
                    // Unavailable: the room is moving, retry with backoff. No answer in time: the
                    // server answers every join once the room is back (a room that died with its
                    // node takes the failure detector's time), so ask again for as long as the
                    // room is wanted and this connection lives.
                    if (e is BrokerException)
                    {
                        if (!_retry.TryNext(attempts, _time.GetElapsedTime(first), out var delay)) throw;
                        await Task.Delay(delay, _time).ConfigureAwait(false);
                    }
                    // A rejoin belongs to its connection: after a drop the next one rejoins by itself.
                    if (connection.Ended || !IsTracked(join.Room)) return;
                    request = _pending.Add(ReplyKind.Joined, join.Room, rejoin: true);
                    try
                    {
                        await connection.SendAsync(join, static (w, j, id) => WriteJoin(w, j.Room, j.Epoch, j.Offset, id),
                            request.Id, CancellationToken.None).ConfigureAwait(false);
                    }
                    catch (BrokerException)
                    {
                        _pending.Remove(request);
                        return;
                    }
                }
            }
        }
        catch (BrokerException e) when (e.Code == BrokerException.Disconnected)
        {
            // The next connection rejoins it.
        }
        catch (BrokerException e)
        {
            // The server refused the room now (e.g. forbidden): stop tracking it and tell the app.
            lock (_rooms) _rooms.Remove(request.Room!);
            RaiseError(new BrokerException(e.Code, $"Rejoining '{request.Room}' failed: {e.Message}", e));
        }
        catch (Exception e)
        {
            RaiseError(e);
        }
    }

    /// <summary>Watches a connection until it ends, then reconnects (or stops) as §6 says.</summary>
    private async Task SuperviseAsync(BrokerConnection connection, CancellationTokenSource lifetime)
    {
        while (true)
        {
            var end = await connection.ReceiveLoop!.ConfigureAwait(false);
            EndConnection(connection);
            var action = ClosePolicy.Decide(end.Code, _retriedWithNewToken);
            if (action != CloseAction.Stop && !_options.Reconnect.Enabled) action = CloseAction.Stop;
            lock (_gate)
            {
                if (lifetime.IsCancellationRequested || _connection != connection) return;
                _connection = null;
                if (action == CloseAction.Stop)
                {
                    _state = BrokerClientState.Closed;
                    _ready.TrySetResult(null);
                }
                else
                {
                    _state = BrokerClientState.Reconnecting;
                    _ready = NewReady();
                }
            }
            var state = action == CloseAction.Stop ? BrokerClientState.Closed : BrokerClientState.Reconnecting;
            RaiseStateChanged(state);
            RaiseClosed(new ConnectionClosed(end.Code, end.Reason, WillReconnect: action != CloseAction.Stop));
            if (action == CloseAction.Stop) return;

            var next = await ReconnectAsync(action, end, lifetime).ConfigureAwait(false);
            if (next is null) return;
            connection = next;
        }
    }

    private void EndConnection(BrokerConnection connection)
    {
        connection.MarkEnded();
        _pending.FailAll(static _ => new BrokerException(BrokerException.Disconnected,
            "The connection dropped while the request was in flight; it may or may not have been applied."));
        connection.Dispose();
    }

    private async Task<BrokerConnection?> ReconnectAsync(CloseAction action, CloseInfo last, CancellationTokenSource lifetime)
    {
        var retryNow = action == CloseAction.RetryWithNewToken;
        if (retryNow) _retriedWithNewToken = true;
        var attempts = 0;
        while (true)
        {
            if (_options.Reconnect.MaxAttempts is { } max && attempts >= max)
            {
                StopReconnecting(lifetime, last.Code, $"Gave up after {attempts} reconnection attempts: {last.Reason}");
                return null;
            }
            var delay = retryNow ? TimeSpan.Zero : _backoff.Next();
            retryNow = false;
            try
            {
                if (delay > TimeSpan.Zero) await Task.Delay(delay, _time, lifetime.Token).ConfigureAwait(false);
                attempts++;
                var connection = await OpenAsync(lifetime.Token).ConfigureAwait(false);
                return await OnConnectedAsync(connection, lifetime).ConfigureAwait(false) ? connection : null;
            }
            catch (OperationCanceledException) when (lifetime.IsCancellationRequested)
            {
                return null;
            }
            catch (ConnectFailure failure)
            {
                if (lifetime.IsCancellationRequested) return null;
                last = new CloseInfo(failure.Code, failure.Reason);
                switch (ClosePolicy.Decide(failure.Code, _retriedWithNewToken))
                {
                    case CloseAction.Stop:
                        StopReconnecting(lifetime, failure.Code, failure.Reason);
                        return null;
                    case CloseAction.RetryWithNewToken:
                        _retriedWithNewToken = true;
                        retryNow = true;
                        break;
                }
            }
            catch (Exception e)
            {
                if (lifetime.IsCancellationRequested) return null;
                RaiseError(e);
            }
        }
    }

    private void StopReconnecting(CancellationTokenSource lifetime, int code, string? reason)
    {
        lock (_gate)
        {
            if (lifetime.IsCancellationRequested || _state != BrokerClientState.Reconnecting) return;
            _state = BrokerClientState.Closed;
            _ready.TrySetResult(null);
        }
        RaiseStateChanged(BrokerClientState.Closed);
        RaiseClosed(new ConnectionClosed(code, reason, WillReconnect: false));
    }

    private void StopAfterFailedConnect(CancellationTokenSource lifetime, int code, string? reason)
    {
        lock (_gate)
        {
            if (_lifetime != lifetime || _state != BrokerClientState.Connecting) return;
            _state = BrokerClientState.Closed;
            _ready.TrySetResult(null);
        }
        RaiseStateChanged(BrokerClientState.Closed);
        RaiseClosed(new ConnectionClosed(code, reason, WillReconnect: false));
    }

    /// <summary>§5: no server frame for <c>interval + timeout</c> means the connection is dead.</summary>
    private void StartWatchdog(BrokerConnection connection)
    {
        var welcome = connection.Welcome!;
        if (welcome.HeartbeatInterval <= TimeSpan.Zero) return;
        var limit = welcome.HeartbeatInterval + welcome.HeartbeatTimeout;
        var period = TimeSpan.FromTicks(Math.Max(TimeSpan.FromMilliseconds(50).Ticks, limit.Ticks / 8));
        connection.Watchdog = _time.CreateTimer(static s =>
        {
            var (c, max) = ((BrokerConnection, TimeSpan))s!;
            if (!c.Ended && c.SinceLastFrame > max) c.Abort(ClosePolicy.Abnormal, Close.HeartbeatTimeout.Reason);
        }, (connection, limit), period, period);
    }

    /// <summary>Schedules the next token refresh: <see cref="BrokerClientOptions.RefreshBefore"/> ahead of expiry, at most half the remaining lifetime.</summary>
    private void ScheduleRefresh(BrokerConnection connection)
    {
        if (_options.TokenProvider is null || connection.ExpiresAt is not { } expiresAt || connection.Ended) return;
        var remaining = expiresAt - _time.GetUtcNow();
        var lead = _options.RefreshBefore < remaining / 2 ? _options.RefreshBefore : remaining / 2;
        var due = remaining - lead;
        if (due < TimeSpan.Zero) due = TimeSpan.Zero;
        connection.RefreshTimer?.Dispose();
        connection.RefreshTimer = _time.CreateTimer(static s =>
        {
            var (client, c) = ((BrokerClient, BrokerConnection))s!;
            _ = client.RefreshAsync(c);
        }, (this, connection), due, Timeout.InfiniteTimeSpan);
    }

    private async Task RefreshAsync(BrokerConnection connection)
    {
        try
        {
            if (connection.Ended) return;
            var token = await _options.TokenProvider!(CancellationToken.None).AsTask()
                .WaitAsync(_options.RequestTimeout, _time).ConfigureAwait(false);
            _bearer = token;
            var start = _time.GetTimestamp();
            var reply = await RequestAsync(connection, ReplyKind.Refreshed, start, "token refresh", token,
                static (w, t, id) => WriteAuth(w, t, id), CancellationToken.None).ConfigureAwait(false);
            var previous = connection.ExpiresAt;
            var next = DateTimeOffset.FromUnixTimeMilliseconds(reply.Number);
            connection.ExpiresAt = next;
            // A token that does not outlive the old one is not refreshed again: the server closes
            // with 4401 at expiry, and the reconnection fetches a new token.
            if (previous is null || next > previous) ScheduleRefresh(connection);
        }
        catch (BrokerException e) when (e.Code == BrokerException.Disconnected)
        {
            // The connection is gone; the next one gets a fresh token anyway.
        }
        catch (Exception e)
        {
            RaiseError(new BrokerException(ErrorCodes.Unauthorized, "The token refresh failed: " + e.Message, e));
        }
    }
}

/// <summary>A failed connection attempt, with the close code the policy decides on.</summary>
internal sealed class ConnectFailure(int code, string? reason, Exception? inner = null, string? errorCode = null)
    : Exception(reason ?? $"The connection closed with {code}.", inner)
{
    public int Code { get; } = code;
    public string? Reason { get; } = reason;

    /// <summary>The server's <c>error</c> code sent before closing, if any.</summary>
    public string? ErrorCode { get; } = errorCode;

    /// <summary>What <see cref="BrokerClient.ConnectAsync"/> throws for this failure.</summary>
    public Exception ToPublic()
    {
        if (Code == ClosePolicy.Abnormal && InnerException is TimeoutException timeout) return timeout;
        var code = ErrorCode ?? Code switch
        {
            CloseCodes.Unauthorized => ErrorCodes.Unauthorized,
            CloseCodes.Forbidden => ErrorCodes.Forbidden,
            _ => BrokerException.Disconnected,
        };
        return new BrokerException(code, Message, this) { CloseCode = Code };
    }
}
