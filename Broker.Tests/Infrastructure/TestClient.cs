using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Serialization;
using System.Threading.Channels;

namespace Broker.Tests.Infrastructure;

/// <summary>How a socket ended: the peer's close status and description, or null for both when it dropped without a close frame.</summary>
public sealed record CloseResult(int? Status, string? Description, Exception? Error = null)
{
    public override string ToString() => $"close {Status?.ToString() ?? "(none)"} '{Description}'{(Error is null ? "" : " after " + Error.GetType().Name + ": " + Error.Message)}";
}

/// <summary>
/// A WebSocket client for tests around <see cref="ClientWebSocket"/>. A background pump reads
/// every frame into a queue (a cancelled ClientWebSocket receive would abort the socket, so
/// receives are never cancelled); every test-side await is bounded by a timeout.
/// </summary>
public sealed class TestClient : IAsyncDisposable
{
    /// <summary>The bound on every await a test makes.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(15);

    private static readonly byte[] PongFrame = """{"type":"pong"}"""u8.ToArray();
    private static readonly JsonSerializerOptions EnvelopeJson = new()
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
    };

    private readonly ClientWebSocket _socket;
    private readonly Channel<JsonElement> _frames = Channel.CreateUnbounded<JsonElement>();
    private readonly TaskCompletionSource<CloseResult> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly List<JsonElement> _stash = new(); // frames read while looking for another type
    private readonly object _gateLock = new();
    private TaskCompletionSource _readGate = NewOpenGate();
    private int _nextId;

    private TestClient(ClientWebSocket socket, bool autoPong)
    {
        _socket = socket;
        AutoPong = autoPong;
        _ = Task.Run(PumpAsync);
    }

    /// <summary>Answer every server <c>ping</c> with <c>pong</c> as it is read.</summary>
    public bool AutoPong { get; set; }

    public WebSocketState State => _socket.State;

    /// <summary>The upgrade response's headers (e.g. <c>Sec-WebSocket-Extensions</c>).</summary>
    public IReadOnlyDictionary<string, IEnumerable<string>>? ResponseHeaders => _socket.HttpResponseHeaders;

    /// <summary>Completes with how the socket ended.</summary>
    public Task<CloseResult> Closed => _closed.Task;

    /// <summary>The data of the <c>welcome</c> frame, once <see cref="AuthenticateAsync"/> returned.</summary>
    public JsonElement Welcome { get; private set; }

    /// <summary>The user the broker welcomed.</summary>
    public string User => Welcome.Str("user");

    /// <summary>Opens a socket (the upgrade must succeed) and starts reading.</summary>
    /// <param name="configure">Client options beyond the defaults (e.g. offering permessage-deflate, protocol-level keep-alive pings).</param>
    public static async Task<TestClient> ConnectAsync(Uri uri, string? origin = null, bool autoPong = false, Action<ClientWebSocketOptions>? configure = null)
    {
        var socket = NewSocket(origin);
        configure?.Invoke(socket.Options);
        using var timeout = new CancellationTokenSource(DefaultTimeout);
        try
        {
            await socket.ConnectAsync(uri, timeout.Token);
        }
        catch (WebSocketException e)
        {
            socket.Dispose();
            throw new InvalidOperationException($"upgrade to {uri} refused with HTTP {(int)socket.HttpStatusCode}", e);
        }
        return new TestClient(socket, autoPong);
    }

    /// <summary>Opens a socket to <paramref name="uri"/> and authenticates with <paramref name="token"/>; returns it after <c>welcome</c>.</summary>
    public static async Task<TestClient> ConnectAuthenticatedAsync(Uri uri, string token, bool autoPong = false)
    {
        var client = await ConnectAsync(uri, autoPong: autoPong);
        try
        {
            await client.AuthenticateAsync(token);
            return client;
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }

    /// <summary>Attempts an upgrade that must be refused; returns the HTTP status the server answered with.</summary>
    public static async Task<HttpStatusCode> ConnectExpectingRefusalAsync(Uri uri, string? origin = null)
    {
        using var socket = NewSocket(origin);
        using var timeout = new CancellationTokenSource(DefaultTimeout);
        try
        {
            await socket.ConnectAsync(uri, timeout.Token);
        }
        catch (WebSocketException)
        {
            return socket.HttpStatusCode;
        }
        socket.Abort();
        throw new Xunit.Sdk.XunitException($"the upgrade to {uri} was accepted, expected an HTTP refusal");
    }

    private static ClientWebSocket NewSocket(string? origin)
    {
        var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        socket.Options.KeepAliveInterval = TimeSpan.Zero; // only the broker's own heartbeat
        if (origin is not null) socket.Options.SetRequestHeader("Origin", origin);
        return socket;
    }

    // ---- sending ----

    /// <summary>Sends one text frame exactly as given.</summary>
    public Task SendTextAsync(string text) => SendRawAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, endOfMessage: true);

    /// <summary>Sends bytes as one frame (or one fragment, with <paramref name="endOfMessage"/> false).</summary>
    public async Task SendRawAsync(ReadOnlyMemory<byte> bytes, WebSocketMessageType type, bool endOfMessage)
    {
        using var timeout = new CancellationTokenSource(DefaultTimeout);
        await _sendLock.WaitAsync(timeout.Token);
        try
        {
            await _socket.SendAsync(bytes, type, endOfMessage, timeout.Token);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>Sends an envelope <c>{"type","id","data"}</c>; null <paramref name="id"/> and <paramref name="data"/> are left out.</summary>
    public Task SendAsync(string type, string? id = null, JsonNode? data = null)
    {
        var envelope = new JsonObject { ["type"] = type };
        if (id is not null) envelope["id"] = id;
        if (data is not null) envelope["data"] = data;
        return SendTextAsync(envelope.ToJsonString());
    }

    /// <summary>Sends <paramref name="envelope"/> serialized as it is (camelCase, null members left out).</summary>
    public Task SendAsync(object envelope) => SendTextAsync(JsonSerializer.Serialize(envelope, EnvelopeJson));

    /// <summary>A fresh correlation id.</summary>
    public string NextId(string prefix = "c") => $"{prefix}-{Interlocked.Increment(ref _nextId)}";

    // ---- receiving ----

    /// <summary>The next frame, skipping server <c>ping</c>s unless <paramref name="includePings"/>. Fails if the socket closes first.</summary>
    public async Task<JsonElement> ReceiveAsync(bool includePings = false, TimeSpan? timeout = null)
    {
        lock (_stash)
        {
            while (_stash.Count > 0)
            {
                var stashed = _stash[0];
                _stash.RemoveAt(0);
                if (includePings || stashed.Type() != "ping") return stashed;
            }
        }
        return await ReadFromSocketAsync(f => includePings || f.Type() != "ping", timeout ?? DefaultTimeout);
    }

    /// <summary>The first frame that answers request <paramref name="id"/>, whatever its type (a reply or an <c>error</c>).</summary>
    public Task<JsonElement> ReceiveReplyAsync(string id, TimeSpan? timeout = null) =>
        ReceiveMatchingAsync(f => f.Id() == id, timeout);

    /// <summary>
    /// The next frame of <paramref name="type"/> (and <paramref name="id"/>, when given). Frames of
    /// other types read meanwhile are kept, in order, for later receives.
    /// </summary>
    public Task<JsonElement> ReceiveAsync(string type, string? id = null, TimeSpan? timeout = null) =>
        ReceiveMatchingAsync(f => f.Type() == type && (id is null || f.Id() == id), timeout);

    /// <summary>The data of the next <paramref name="count"/> <c>message</c> frames, in arrival order (others are kept).</summary>
    public async Task<JsonElement[]> MessagesAsync(int count)
    {
        var messages = new JsonElement[count];
        for (var i = 0; i < count; i++) messages[i] = (await ReceiveAsync("message")).Data();
        return messages;
    }

    /// <summary>The first frame kept earlier, or read now, that <paramref name="match"/> accepts; the others are kept.</summary>
    public async Task<JsonElement> ReceiveMatchingAsync(Predicate<JsonElement> match, TimeSpan? timeout = null)
    {
        lock (_stash)
        {
            var index = _stash.FindIndex(match);
            if (index >= 0)
            {
                var found = _stash[index];
                _stash.RemoveAt(index);
                return found;
            }
        }
        return await ReadFromSocketAsync(f => match(f), timeout ?? DefaultTimeout, stashOthers: true);
    }

    private async Task<JsonElement> ReadFromSocketAsync(Func<JsonElement, bool> match, TimeSpan timeout, bool stashOthers = false)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (true)
            {
                if (!await _frames.Reader.WaitToReadAsync(cts.Token))
                    throw new Xunit.Sdk.XunitException($"the socket closed while a frame was expected: {await Closed}");
                var frame = await _frames.Reader.ReadAsync(cts.Token);
                if (match(frame)) return frame;
                if (stashOthers && frame.Type() != "ping")
                    lock (_stash) _stash.Add(frame);
            }
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            throw new TimeoutException($"no matching frame within {timeout} (socket {_socket.State})");
        }
    }

    /// <summary>Waits for the socket to end and returns how; frames still queued are ignored.</summary>
    public async Task<CloseResult> ExpectCloseAsync(TimeSpan? timeout = null)
    {
        try
        {
            return await Closed.WaitAsync(timeout ?? DefaultTimeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"the socket did not close within {timeout ?? DefaultTimeout} (state {_socket.State})");
        }
    }

    /// <summary>Asserts the socket is not closed during <paramref name="period"/> (frames may arrive and stay queued).</summary>
    public async Task AssertStaysOpenAsync(TimeSpan period)
    {
        var ended = await Task.WhenAny(Closed, Task.Delay(period));
        if (ended == Closed)
            throw new Xunit.Sdk.XunitException($"the socket closed within {period}: {await Closed}");
    }

    // ---- protocol helpers ----

    /// <summary>Sends <c>auth</c> with <paramref name="token"/> and returns the <c>welcome</c>.</summary>
    public async Task<JsonElement> AuthenticateAsync(string token)
    {
        await SendAsync("auth", data: new JsonObject { ["token"] = token });
        var welcome = await ReceiveAsync();
        Assert.True(welcome.Type() == "welcome", $"expected welcome, got {welcome}");
        Welcome = welcome.Data();
        return welcome;
    }

    /// <summary>Joins <paramref name="room"/> (from <c>since</c> when an epoch is given), waits for <c>joined</c> and returns its data.</summary>
    public async Task<JsonElement> JoinAsync(string room, string? sinceEpoch = null, long? sinceOffset = null)
    {
        var id = await SendJoinAsync(room, sinceEpoch, sinceOffset);
        var joined = await ReceiveAsync("joined", id);
        Assert.Equal(room, joined.Data().Str("room"));
        return joined.Data();
    }

    /// <summary>
    /// Joins with <c>since</c> and returns the data of the <c>message</c> frames replayed before its
    /// <c>joined</c> (in order; a fresh connection, so nothing live is among them) and the <c>joined</c> data.
    /// </summary>
    public async Task<(JsonElement[] Missed, JsonElement Joined)> RecoverAsync(string room, string epoch, long since)
    {
        var id = await SendJoinAsync(room, epoch, since);
        var missed = new List<JsonElement>();
        while (true)
        {
            var frame = await ReceiveAsync();
            if (frame.Type() == "joined" && frame.Id() == id) return (missed.ToArray(), frame.Data());
            if (frame.Type() == "message" && frame.Data().Str("room") == room) missed.Add(frame.Data());
        }
    }

    /// <summary>Sends <c>join</c> (with <c>since</c> when an epoch is given) and returns its id.</summary>
    public async Task<string> SendJoinAsync(string room, string? sinceEpoch = null, long? sinceOffset = null)
    {
        var id = NextId("join");
        object data = sinceEpoch is null
            ? new { room }
            : new { room, since = new { epoch = sinceEpoch, offset = sinceOffset ?? 0 } };
        await SendAsync(new { type = "join", id, data });
        return id;
    }

    /// <summary>Publishes to <paramref name="room"/> and returns the id, without waiting for the <c>ack</c>.</summary>
    public async Task<string> SendPublishAsync(string room, object payload, bool? excludeSelf = null)
    {
        var id = NextId("pub");
        await SendAsync(new { type = "publish", id, data = new { room, payload, excludeSelf } });
        return id;
    }

    /// <summary>Publishes to <paramref name="room"/>, waits for the <c>ack</c> and returns its offset.</summary>
    public async Task<long> PublishAsync(string room, object payload, bool? excludeSelf = null)
    {
        var id = await SendPublishAsync(room, payload, excludeSelf);
        return (await ReceiveAsync("ack", id)).Data().Long("offset");
    }

    /// <summary>Proves the connection is open and served: a <c>ping</c> with an id is answered by a <c>pong</c> with that id.</summary>
    public async Task PingPongAsync()
    {
        var id = NextId("ping");
        await SendAsync("ping", id);
        await ReceiveAsync("pong", id);
    }

    /// <summary>Publishes a route-wide broadcast and returns the <c>ack</c> with the same id.</summary>
    public async Task<JsonElement> PublishAsync(JsonNode payload, bool excludeSelf = false, string? id = null)
    {
        id ??= NextId("pub");
        var data = new JsonObject { ["payload"] = payload };
        if (excludeSelf) data["excludeSelf"] = true;
        await SendAsync("publish", id, data);
        return await ReceiveAsync("ack", id);
    }

    /// <summary>Stops reading from the socket (the client becomes a slow consumer); at most one more frame is read.</summary>
    public void PauseReading()
    {
        lock (_gateLock) if (_readGate.Task.IsCompleted) _readGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>Reads again after <see cref="PauseReading"/>.</summary>
    public void ResumeReading()
    {
        lock (_gateLock) _readGate.TrySetResult();
    }

    private static TaskCompletionSource NewOpenGate()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        gate.SetResult();
        return gate;
    }

    // ---- the pump ----

    private async Task PumpAsync()
    {
        var buffer = new byte[16 * 1024];
        var message = new MemoryStream();
        var result = new CloseResult(null, null);
        try
        {
            while (true)
            {
                Task gate;
                lock (_gateLock) gate = _readGate.Task;
                await gate;
                // Not cancellable on purpose: DisposeAsync aborts the socket, which ends this read.
                var received = await _socket.ReceiveAsync(buffer, CancellationToken.None);
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    result = new CloseResult((int?)_socket.CloseStatus, _socket.CloseStatusDescription);
                    _frames.Writer.TryComplete();
                    _closed.TrySetResult(result);
                    // After answering, ClientWebSocket waits (up to 1 s) for the server to drop TCP;
                    // the close is already reported, so tests do not wait for that.
                    await AcknowledgeCloseAsync();
                    break;
                }
                message.Write(buffer, 0, received.Count);
                if (!received.EndOfMessage) continue;
                var frame = Parse(message.ToArray(), received.MessageType);
                message.SetLength(0);
                if (AutoPong && frame.Type() == "ping")
                    await SendRawAsync(PongFrame, WebSocketMessageType.Text, endOfMessage: true);
                _frames.Writer.TryWrite(frame);
            }
        }
        catch (Exception e)
        {
            result = new CloseResult((int?)_socket.CloseStatus, _socket.CloseStatusDescription, e);
        }
        finally
        {
            _frames.Writer.TryComplete();
            _closed.TrySetResult(result);
        }
    }

    private async Task AcknowledgeCloseAsync()
    {
        try
        {
            using var timeout = new CancellationTokenSource(DefaultTimeout);
            if (_socket.State == WebSocketState.CloseReceived)
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", timeout.Token);
        }
        catch (Exception) { /* the server may already have gone */ }
    }

    private static JsonElement Parse(byte[] bytes, WebSocketMessageType type)
    {
        if (type == WebSocketMessageType.Binary)
            return JsonSerializer.SerializeToElement(new JsonObject { ["type"] = "(binary)", ["length"] = bytes.Length });
        using var document = JsonDocument.Parse(bytes);
        return document.RootElement.Clone();
    }

    /// <summary>Closes normally and waits until the server's close is read.</summary>
    public async Task<CloseResult> CloseAsync()
    {
        using (var timeout = new CancellationTokenSource(DefaultTimeout))
        {
            await _sendLock.WaitAsync(timeout.Token);
            try { await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", timeout.Token); }
            finally { _sendLock.Release(); }
        }
        return await ExpectCloseAsync();
    }

    /// <summary>Drops the connection without a close frame, as a client that vanished (the server sees an aborted request).</summary>
    public void Abort() => _socket.Abort();

    public async ValueTask DisposeAsync()
    {
        if (_socket.State == WebSocketState.Open)
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await _sendLock.WaitAsync(timeout.Token);
                try { await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "test done", timeout.Token); }
                finally { _sendLock.Release(); }
            }
            catch (Exception) { /* best effort */ }
        }
        _socket.Abort();
        ResumeReading();
        await Closed.WaitAsync(DefaultTimeout);
        _socket.Dispose();
    }
}

/// <summary>Bounds a test's await, as SignalR's <c>OrTimeout</c>.</summary>
public static class TaskTimeoutExtensions
{
    /// <summary><paramref name="task"/>, failing with a <see cref="TimeoutException"/> after <paramref name="timeout"/> (default <see cref="TestClient.DefaultTimeout"/>).</summary>
    public static Task<T> OrTimeout<T>(this Task<T> task, TimeSpan? timeout = null) => task.WaitAsync(timeout ?? TestClient.DefaultTimeout);

    /// <inheritdoc cref="OrTimeout{T}"/>
    public static Task OrTimeout(this Task task, TimeSpan? timeout = null) => task.WaitAsync(timeout ?? TestClient.DefaultTimeout);
}

/// <summary>Readers for the envelope fields of a received frame.</summary>
public static class FrameExtensions
{
    public static string? Type(this JsonElement frame) =>
        frame.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;

    public static string? Id(this JsonElement frame) =>
        frame.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String ? id.GetString() : null;

    public static JsonElement Data(this JsonElement frame) =>
        frame.TryGetProperty("data", out var data) ? data : default;

    /// <summary><c>data.code</c> of an <c>error</c> frame.</summary>
    public static string? ErrorCode(this JsonElement frame) =>
        frame.Type() == "error" && frame.Data().TryGetProperty("code", out var code) ? code.GetString() : null;

    public static string Str(this JsonElement element, string property) => element.GetProperty(property).GetString()!;

    public static long Long(this JsonElement element, string property) => element.GetProperty(property).GetInt64();

    public static bool Bool(this JsonElement element, string property) => element.GetProperty(property).GetBoolean();

    public static string[] Strings(this JsonElement element, string property) =>
        element.GetProperty(property).EnumerateArray().Select(e => e.GetString()!).ToArray();
}

/// <summary>Frames and payloads written as JSON literals, for specs that drive actors without a socket.</summary>
public static class Frame
{
    /// <summary>The envelope of <paramref name="utf8"/>, detached from its document.</summary>
    public static JsonElement Parse(byte[] utf8)
    {
        using var document = JsonDocument.Parse(utf8);
        return document.RootElement.Clone();
    }

    /// <summary>The envelope of <paramref name="json"/>, detached from its document.</summary>
    public static JsonElement Parse(string json) => Parse(Encoding.UTF8.GetBytes(json));

    /// <summary>UTF-8 bytes of a JSON literal, as rooms carry payloads.</summary>
    public static byte[] Json(string json) => Encoding.UTF8.GetBytes(json);
}
