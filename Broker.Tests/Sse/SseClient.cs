using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Threading.Channels;

namespace Broker.Tests.Sse;

/// <summary>
/// The tests' SSE client (PROTOCOL §9.4): a real <see cref="HttpClient"/> reading <c>GET /sse/{route}</c>
/// as an event stream, and POSTing frames to the session. Receives like <see cref="TestClient"/>
/// (by type or id, others kept in order, pings skipped), so a test reads the same either way.
/// </summary>
public sealed class SseClient : IAsyncDisposable
{
    private readonly HttpClient _stream;
    private readonly HttpClient _posts;
    private readonly HttpResponseMessage _response;
    private readonly string _route;
    private readonly Channel<JsonElement> _events = Channel.CreateUnbounded<JsonElement>();
    private readonly List<JsonElement> _stash = new();
    private readonly TaskCompletionSource<JsonElement?> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _dispose = new();
    private readonly object _gateLock = new();
    private TaskCompletionSource _readGate = Open();
    private int _nextId;

    private SseClient(HttpClient stream, HttpClient posts, HttpResponseMessage response, string route, string? token, bool autoPong)
    {
        _stream = stream;
        _posts = posts;
        _response = response;
        _route = route;
        Token = token;
        AutoPong = autoPong;
        _ = Task.Run(PumpAsync);
    }

    /// <summary>The bearer token POSTs carry (null: none, as on an anonymous route).</summary>
    public string? Token { get; set; }

    /// <summary>POST a <c>pong</c> for every <c>ping</c> event as it is read.</summary>
    public bool AutoPong { get; set; }

    /// <summary>The <c>welcome</c> event's data.</summary>
    public JsonElement Welcome { get; private set; }

    /// <summary>The session id from <c>welcome</c>.</summary>
    public string Session => Welcome.Str("session");

    public string User => Welcome.Str("user");

    /// <summary>The GET's response (status, headers, HTTP version).</summary>
    public HttpResponseMessage Response => _response;

    /// <summary>Completes when the stream ends: with the final <c>close</c> event's data, or null when it ended without one.</summary>
    public Task<JsonElement?> Ended => _ended.Task;

    /// <summary>An HTTP client for the stream; <paramref name="version"/> 2.0 speaks h2c with prior knowledge.</summary>
    public static HttpClient NewHttpClient(BrokerTestHost host, Version? version = null, Uri? baseUri = null) => new(new SocketsHttpHandler())
    {
        BaseAddress = baseUri ?? host.BaseUri,
        Timeout = Timeout.InfiniteTimeSpan, // a stream lives as long as the test wants; every await has its own bound
        DefaultRequestVersion = version ?? HttpVersion.Version11,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
    };

    /// <summary>The GET request for <paramref name="route"/>, with <c>Accept: text/event-stream</c> and, when given, a bearer token.</summary>
    public static HttpRequestMessage StreamRequest(string route, string? bearer = null, string? query = null, string? accept = "text/event-stream")
    {
        var request = new HttpRequestMessage(HttpMethod.Get, $"sse/{route}{(query is null ? "" : "?" + query)}");
        if (accept is not null) request.Headers.Accept.ParseAdd(accept);
        if (bearer is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        return request;
    }

    /// <summary>Opens a stream with a bearer token for <paramref name="user"/>, POSTs with the same token; returns after <c>welcome</c>.</summary>
    public static Task<SseClient> ConnectAsync(BrokerTestHost host, string user, string route = "chat", string? query = null, bool autoPong = false,
        Version? version = null, Uri? baseUri = null)
    {
        var token = TestTokens.Valid(user);
        return OpenAsync(host, route, StreamRequest(route, token, query), token, autoPong, version, baseUri);
    }

    /// <summary>Opens the stream <paramref name="request"/> asks for; asserts 200 and reads <c>welcome</c>.</summary>
    public static async Task<SseClient> OpenAsync(BrokerTestHost host, string route, HttpRequestMessage request, string? postToken,
        bool autoPong = false, Version? version = null, Uri? baseUri = null)
    {
        var stream = NewHttpClient(host, version, baseUri);
        var posts = NewHttpClient(host, version, baseUri);
        // A request's own version wins over the client's default.
        request.Version = stream.DefaultRequestVersion;
        request.VersionPolicy = stream.DefaultVersionPolicy;
        var response = await stream.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).OrTimeout();
        if (response.StatusCode != HttpStatusCode.OK)
        {
            var body = await response.Content.ReadAsStringAsync();
            stream.Dispose();
            posts.Dispose();
            throw new Xunit.Sdk.XunitException($"GET /sse/{route} answered {(int)response.StatusCode}: {body}");
        }
        var client = new SseClient(stream, posts, response, route, postToken, autoPong);
        await client.ReceiveAsync("welcome"); // the pump has set Welcome
        return client;
    }

    // ---- receiving ----

    /// <summary>The next event of <paramref name="type"/> (and <paramref name="id"/>); others read meanwhile are kept in order.</summary>
    public Task<JsonElement> ReceiveAsync(string type, string? id = null, TimeSpan? timeout = null) =>
        ReceiveMatchingAsync(f => f.Type() == type && (id is null || f.Id() == id), timeout);

    /// <summary>The next event that is not a <c>ping</c>.</summary>
    public Task<JsonElement> ReceiveAsync(TimeSpan? timeout = null) => ReceiveMatchingAsync(f => f.Type() != "ping", timeout);

    /// <summary>The first event, kept or new, that <paramref name="match"/> accepts; pings are dropped unless matched.</summary>
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
        var limit = timeout ?? TestClient.DefaultTimeout;
        using var cts = new CancellationTokenSource(limit);
        try
        {
            while (true)
            {
                if (!await _events.Reader.WaitToReadAsync(cts.Token))
                    throw new Xunit.Sdk.XunitException($"the stream ended while an event was expected (final event: {await Ended})");
                var frame = await _events.Reader.ReadAsync(cts.Token);
                if (match(frame)) return frame;
                if (frame.Type() != "ping") lock (_stash) _stash.Add(frame);
            }
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            throw new TimeoutException($"no matching event within {limit}");
        }
    }

    /// <summary>Waits for the stream to end; returns the final <c>close</c> event's data (null: none).</summary>
    public async Task<JsonElement?> ExpectEndAsync(TimeSpan? timeout = null) => await Ended.WaitAsync(timeout ?? TestClient.DefaultTimeout);

    // ---- sending ----

    /// <summary>POSTs <paramref name="body"/> as it is to the session; returns the response.</summary>
    public Task<HttpResponseMessage> PostRawAsync(string body, string? token = null, string? session = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"sse/{_route}/{session ?? Session}")
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
            Version = _posts.DefaultRequestVersion,
            VersionPolicy = _posts.DefaultVersionPolicy,
        };
        if ((token ?? Token) is { } bearer) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        return _posts.SendAsync(request).OrTimeout();
    }

    /// <summary>POSTs one envelope (or, for a <see cref="JsonArray"/>, a batch); asserts 202.</summary>
    public async Task PostAsync(JsonNode envelopes)
    {
        using var response = await PostRawAsync(envelopes.ToJsonString());
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"POST answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    public string NextId(string prefix = "s") => $"{prefix}-{Interlocked.Increment(ref _nextId)}";

    public static JsonObject Envelope(string type, string? id = null, JsonNode? data = null)
    {
        var envelope = new JsonObject { ["type"] = type };
        if (id is not null) envelope["id"] = id;
        if (data is not null) envelope["data"] = data;
        return envelope;
    }

    /// <summary>Joins <paramref name="room"/> (with <c>since</c> when given); returns <c>joined</c>'s data.</summary>
    public async Task<JsonElement> JoinAsync(string room, string? sinceEpoch = null, long? sinceOffset = null)
    {
        var id = NextId("join");
        var data = new JsonObject { ["room"] = room };
        if (sinceEpoch is not null) data["since"] = new JsonObject { ["epoch"] = sinceEpoch, ["offset"] = sinceOffset ?? 0 };
        await PostAsync(Envelope("join", id, data));
        var reply = await ReceiveMatchingAsync(f => f.Id() == id);
        Assert.True(reply.Type() == "joined", reply.ToString());
        return reply.Data();
    }

    /// <summary>Publishes <paramref name="payload"/> to <paramref name="room"/>; returns the ack's offset.</summary>
    public async Task<long> PublishAsync(string room, JsonNode payload)
    {
        var id = NextId("pub");
        await PostAsync(Envelope("publish", id, new JsonObject { ["room"] = room, ["payload"] = payload }));
        var ack = await ReceiveMatchingAsync(f => f.Id() == id);
        Assert.True(ack.Type() == "ack", ack.ToString());
        return ack.Data().Long("offset");
    }

    // ---- reading the stream ----

    /// <summary>Stops reading the stream (the server's writes back up), until <see cref="ResumeReading"/>.</summary>
    public void PauseReading()
    {
        lock (_gateLock) if (_readGate.Task.IsCompleted) _readGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    public void ResumeReading()
    {
        lock (_gateLock) _readGate.TrySetResult();
    }

    private static TaskCompletionSource Open()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        gate.SetResult();
        return gate;
    }

    /// <summary>Reads events (SSE: <c>data:</c> lines joined with LF, ended by a blank line) until the stream ends.</summary>
    private async Task PumpAsync()
    {
        JsonElement? closeEvent = null;
        try
        {
            await using var body = await _response.Content.ReadAsStreamAsync(_dispose.Token);
            // A small buffer: a paused reader must stop reading the socket, not hold a big read-ahead.
            using var reader = new StreamReader(body, Encoding.UTF8, detectEncodingFromByteOrderMarks: false, bufferSize: 1024);
            var data = new StringBuilder();
            var hasData = false;
            while (true)
            {
                Task gate;
                lock (_gateLock) gate = _readGate.Task;
                await gate.WaitAsync(_dispose.Token);
                var line = await reader.ReadLineAsync(_dispose.Token);
                if (line is null) break;
                if (line.Length == 0)
                {
                    if (!hasData) continue;
                    var frame = Frame.Parse(data.ToString());
                    data.Clear();
                    hasData = false;
                    // Set here, before any later ping is read: an auto-pong needs the session at once.
                    if (frame.Type() == "welcome") Welcome = frame.Data();
                    if (frame.Type() == "close") closeEvent = frame.Data();
                    if (frame.Type() == "ping" && AutoPong) _ = PongAsync();
                    _events.Writer.TryWrite(frame);
                    continue;
                }
                if (line.StartsWith("data:", StringComparison.Ordinal))
                {
                    if (hasData) data.Append('\n');
                    data.Append(line.AsSpan(line.StartsWith("data: ", StringComparison.Ordinal) ? 6 : 5));
                    hasData = true;
                }
            }
        }
        catch (Exception) when (_dispose.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is IOException or HttpRequestException or OperationCanceledException)
        {
            // The server dropped the connection: the stream ended without a final event.
        }
        finally
        {
            _events.Writer.TryComplete();
            _ended.TrySetResult(closeEvent);
        }
    }

    private async Task PongAsync()
    {
        try
        {
            using var response = await PostRawAsync("""{"type":"pong"}""");
        }
        catch (Exception)
        {
            // The session may be ending; the heartbeat test sees the outcome on the stream.
        }
    }

    public async ValueTask DisposeAsync()
    {
        _dispose.Cancel();
        ResumeReading();
        _response.Dispose();
        try { await Ended.WaitAsync(TestClient.DefaultTimeout); }
        catch (TimeoutException) { /* the test result says what went wrong */ }
        _stream.Dispose();
        _posts.Dispose();
    }
}
