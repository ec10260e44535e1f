using System.Net;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using System.Text.RegularExpressions;
using System.Threading.Channels;
using Broker.Client.Internal;
using Broker.Client.Protocol;

namespace Broker.Client;

/// <summary>
/// A connection to the broker (PROTOCOL v1.1) that stays up: it authenticates with a JWT (first
/// message or ticket), answers heartbeats and watches for a dead server, refreshes the token
/// before it expires, reconnects with backoff after a drop and rejoins every room, replaying the
/// messages it missed. Requests complete with the server's reply; a join, publish or send the server
/// answers <c>unavailable</c> is retried with backoff (<see cref="BrokerClientOptions.Retry"/>). Thread-safe.
/// </summary>
/// <remarks>
/// Events run on the receive loop, one at a time, in arrival order: keep handlers short and never
/// block on a request's task inside one (await it instead). An exception thrown by a handler is
/// caught and reported through <see cref="Error"/>; it never stops the client.
/// </remarks>
public sealed partial class BrokerClient : IAsyncDisposable
{
    private static readonly TimeSpan CloseHandshakeTimeout = TimeSpan.FromSeconds(5);

    private readonly BrokerClientOptions _options;
    private readonly TimeProvider _time;
    private readonly PendingRequests _pending;
    private readonly RoomRecovery _rooms = new(); // guarded by itself
    private readonly ReconnectBackoff _backoff;
    private readonly RetryPolicy _retry;
    private readonly Channel<RoomMessage>? _messages;
    private readonly object _gate = new();
    private readonly SemaphoreSlim _requestOrder = new(1, 1); // requests go out in call order, also after waiting for a reconnection

    // Guarded by _gate.
    private BrokerClientState _state = BrokerClientState.Disconnected;
    private BrokerConnection? _connection;
    private TaskCompletionSource<BrokerConnection?> _ready = NewReady();
    private CancellationTokenSource? _lifetime;
    private Task? _supervisor;
    private bool _disposed;

    private bool _retriedWithNewToken; // only touched by the connect path, one at a time
    private HttpClient? _http;
    private HttpClient? _sseHttp; // no overall timeout: an SSE stream is open for the session's life

    /// <summary>Creates a client; nothing happens until <see cref="ConnectAsync"/>.</summary>
    public BrokerClient(BrokerClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Url is null) throw new ArgumentException("BrokerClientOptions.Url is required.", nameof(options));
        if (options.Url.Scheme is not ("ws" or "wss")) throw new ArgumentException("BrokerClientOptions.Url must be a ws:// or wss:// URI.", nameof(options));
        if (options.RequestTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(options), "RequestTimeout must be positive.");
        if (options.MaxFrameBytes < 1024) throw new ArgumentOutOfRangeException(nameof(options), "MaxFrameBytes must be at least 1024.");
        if (options.Authentication == BrokerAuthentication.Ticket && options.TokenProvider is null)
            throw new ArgumentException("Ticket authentication needs a TokenProvider.", nameof(options));
        _options = options;
        _time = options.TimeProvider ?? TimeProvider.System;
        _pending = new PendingRequests(_time);
        _backoff = new ReconnectBackoff(options.Reconnect ?? new ReconnectOptions(), options.Random);
        _retry = new RetryPolicy(options.Retry ?? new RetryOptions(), options.Random);
        if (options.MessageChannelCapacity > 0)
            _messages = Channel.CreateBounded<RoomMessage>(new BoundedChannelOptions(options.MessageChannelCapacity)
            {
                SingleWriter = true,
                FullMode = BoundedChannelFullMode.Wait,
            });
    }

    /// <summary>The state changed (see <see cref="BrokerClientState"/>).</summary>
    public event Action<BrokerClientState>? StateChanged;

    /// <summary>A room message arrived (in order per room, duplicates after a reconnection dropped).</summary>
    public event Action<RoomMessage>? MessageReceived;

    /// <summary>A direct message to this user arrived.</summary>
    public event Action<DirectMessage>? DirectReceived;

    /// <summary>Another member joined or left a room.</summary>
    public event Action<PresenceChange>? PresenceChanged;

    /// <summary>A room's user count, sent instead of presence changes when they come too fast (PROTOCOL §9.3); member lists may then be stale.</summary>
    public event Action<RoomOccupancy>? OccupancyChanged;

    /// <summary>A room was rejoined after a reconnection; if not recovered, the app must resync it.</summary>
    public event Action<RoomRecovered>? Recovered;

    /// <summary>
    /// A room lost its history while this client stayed joined (its host node died; PROTOCOL §9.1).
    /// The new epoch's messages were raised before this, in order; messages of the old epoch after the
    /// last one raised may be missing: reload what you show of the room. Reconnections resume from here.
    /// </summary>
    public event Action<RoomResynced>? Resynced;

    /// <summary>A connection ended; <see cref="ConnectionClosed.WillReconnect"/> says whether another follows.</summary>
    public event Action<ConnectionClosed>? Closed;

    /// <summary>
    /// Something failed outside a request: an event handler threw, the server sent an <c>error</c>
    /// without an id (e.g. <c>rate_limited</c>), a token refresh or a rejoin failed.
    /// </summary>
    public event Action<Exception>? Error;

    /// <summary>The current state.</summary>
    public BrokerClientState State
    {
        get { lock (_gate) return _state; }
    }

    /// <summary>The <c>welcome</c> of the current (or last) connection.</summary>
    public Welcome? Welcome { get; private set; }

    /// <summary>
    /// The transport of the current connection (or of the attempt in progress):
    /// <see cref="BrokerTransport.WebSocket"/>, or <see cref="BrokerTransport.Sse"/> after the fallback.
    /// </summary>
    public BrokerTransport Transport { get; private set; } = BrokerTransport.WebSocket;

    /// <summary>When the current credential expires, moved forward by every refresh.</summary>
    public DateTimeOffset? ExpiresAt
    {
        get { lock (_gate) return _connection?.ExpiresAt; }
    }

    /// <summary>
    /// Every room message, when <see cref="BrokerClientOptions.MessageChannelCapacity"/> is set (the
    /// <see cref="MessageReceived"/> event is raised too). Read it promptly: a full channel stalls the receive loop.
    /// </summary>
    public ChannelReader<RoomMessage> Messages =>
        _messages?.Reader ?? throw new InvalidOperationException("Set BrokerClientOptions.MessageChannelCapacity to read messages from a channel.");

    /// <summary>The rooms joined (or being joined); they are rejoined after every reconnection.</summary>
    public IReadOnlyList<string> Rooms
    {
        get
        {
            lock (_rooms)
            {
                var cursors = _rooms.Snapshot();
                var names = new string[cursors.Length];
                for (var i = 0; i < cursors.Length; i++) names[i] = cursors[i].Room;
                return names;
            }
        }
    }

    /// <summary>
    /// Opens the first connection and waits for <c>welcome</c> (rejoining the rooms of an earlier
    /// run, if any). On 4401 it fetches a new token and tries once more. It does not retry other
    /// failures: it throws and the state becomes <see cref="BrokerClientState.Closed"/>. Once
    /// connected, drops are handled by reconnecting.
    /// </summary>
    /// <exception cref="BrokerException">Authentication failed (<c>unauthorized</c>/<c>forbidden</c>) or the server refused the connection.</exception>
    /// <exception cref="TimeoutException">No <c>welcome</c> within the request timeout.</exception>
    public async Task<Welcome> ConnectAsync(CancellationToken cancellationToken = default)
    {
        CancellationTokenSource lifetime;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_state is BrokerClientState.Connecting or BrokerClientState.Connected or BrokerClientState.Reconnecting)
                throw new InvalidOperationException($"The client is already {_state}.");
            // The previous lifetime is not disposed: a supervisor that is finishing may still read it.
            _lifetime = lifetime = new CancellationTokenSource();
            _ready = NewReady();
            _state = BrokerClientState.Connecting;
        }
        RaiseStateChanged(BrokerClientState.Connecting);
        _retriedWithNewToken = false;

        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, lifetime.Token);
        while (true)
        {
            try
            {
                var connection = await OpenAsync(linked.Token).ConfigureAwait(false);
                if (!await OnConnectedAsync(connection, lifetime).ConfigureAwait(false))
                    throw new BrokerException(BrokerException.Closed, "The client was closed while connecting.");
                var supervisor = Task.Run(() => SuperviseAsync(connection, lifetime));
                lock (_gate)
                {
                    if (_lifetime == lifetime) _supervisor = supervisor;
                }
                return connection.Welcome!;
            }
            catch (ConnectFailure failure) when (!linked.IsCancellationRequested)
            {
                if (ClosePolicy.Decide(failure.Code, _retriedWithNewToken) == CloseAction.RetryWithNewToken)
                {
                    _retriedWithNewToken = true;
                    continue;
                }
                StopAfterFailedConnect(lifetime, failure.Code, failure.Reason);
                throw failure.ToPublic();
            }
            catch (Exception e) when (e is not ConnectFailure)
            {
                StopAfterFailedConnect(lifetime, ClosePolicy.Abnormal, e.Message);
                if (e is OperationCanceledException && !cancellationToken.IsCancellationRequested && lifetime.IsCancellationRequested)
                    throw new BrokerException(BrokerException.Closed, "The client was closed while connecting.", e);
                throw;
            }
        }
    }

    /// <summary>Joins <paramref name="room"/>; the client rejoins it after every reconnection until <see cref="LeaveAsync"/>.</summary>
    /// <exception cref="BrokerException">The server refused (<c>forbidden</c>, <c>bad_request</c>…), or the connection dropped.</exception>
    public Task<Joined> JoinAsync(string room, CancellationToken cancellationToken = default) =>
        JoinCoreAsync(room, null, 0, cancellationToken);

    /// <summary>
    /// Joins <paramref name="room"/> resuming from a position the app stored (e.g. across restarts):
    /// the messages after <paramref name="sinceOffset"/> in <paramref name="sinceEpoch"/> are raised
    /// through <see cref="MessageReceived"/> before this completes, and <see cref="Joined.Recovered"/>
    /// says whether all of them were still in history (false, or another epoch: resync).
    /// </summary>
    public Task<Joined> JoinAsync(string room, string sinceEpoch, long sinceOffset, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(sinceEpoch);
        ArgumentOutOfRangeException.ThrowIfNegative(sinceOffset);
        return JoinCoreAsync(room, sinceEpoch, sinceOffset, cancellationToken);
    }

    private async Task<Joined> JoinCoreAsync(string room, string? sinceEpoch, long sinceOffset, CancellationToken cancellationToken)
    {
        ValidateRoom(room);
        var start = _time.GetTimestamp();
        lock (_rooms) _rooms.BeginJoin(room, sinceEpoch, sinceOffset);
        try
        {
            var reply = await RequestAsync(ReplyKind.Joined, room, start, "join", (room, sinceEpoch, sinceOffset),
                static (w, s, id) => WriteJoin(w, s.room, s.sinceEpoch, s.sinceOffset, id), cancellationToken).ConfigureAwait(false);
            return reply.Joined!;
        }
        catch
        {
            lock (_rooms) _rooms.JoinFailed(room);
            throw;
        }
    }

    /// <summary>Leaves <paramref name="room"/> (idempotent on the server); it is no longer rejoined, and its messages are no longer delivered.</summary>
    public async Task LeaveAsync(string room, CancellationToken cancellationToken = default)
    {
        ValidateRoom(room);
        lock (_rooms) _rooms.Remove(room);
        var start = _time.GetTimestamp();
        await RequestAsync(ReplyKind.Left, room, start, "leave", room,
            static (w, s, id) =>
            {
                var json = w.Begin(FrameTypes.Leave, id);
                json.WriteStartObject("data"u8);
                json.WriteString("room"u8, s);
                json.WriteEndObject();
                return w.End();
            }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Publishes raw UTF-8 JSON (validated, copied as is) to a joined room; returns the message's
    /// offset (<see cref="PublishWithAckAsync(string, ReadOnlyMemory{byte}, bool, string?, CancellationToken)"/> also
    /// returns the epoch). The bytes are read when the frame is written, which can be after this method
    /// returns (requests leave in call order): keep them unchanged until the task completes.
    /// </summary>
    /// <param name="idempotencyKey">
    /// PROTOCOL §9.2: 1–64 characters; the server applies a publish to a room once per key within its
    /// window (<c>Broker:Rooms:IdempotencyWindow</c>) and answers a repeat with the first one's ack.
    /// Null (the default): a fresh random key (<see cref="NewIdempotencyKey"/>) for this call. The first
    /// send and every retry after <c>unavailable</c> carry the same key. Pass your own, the same each
    /// time, to retry a publish yourself after <c>disconnected</c> or a timeout without a duplicate.
    /// </param>
    /// <exception cref="ArgumentException">An invalid room name, or an <paramref name="idempotencyKey"/> that is empty or longer than 64 characters (nothing is sent).</exception>
    /// <exception cref="BrokerException"><c>forbidden</c> when not a member (or the route is receive-only), <c>too_large</c>, <c>rate_limited</c>, <c>unavailable</c> once its retries are spent, or the connection dropped.</exception>
    public async Task<long> PublishAsync(string room, ReadOnlyMemory<byte> payloadJson, bool excludeSelf = false, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        (await PublishRawAsync(ReplyKind.Ack, room, payloadJson, excludeSelf, idempotencyKey, cancellationToken).ConfigureAwait(false)).Number;

    /// <summary>Publishes a JSON value to a joined room; returns the message's offset.</summary>
    /// <param name="idempotencyKey">See <see cref="PublishAsync(string, ReadOnlyMemory{byte}, bool, string?, CancellationToken)"/>.</param>
    public async Task<long> PublishAsync(string room, JsonElement payload, bool excludeSelf = false, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        (await PublishElementAsync(ReplyKind.Ack, room, payload, excludeSelf, idempotencyKey, cancellationToken).ConfigureAwait(false)).Number;

    /// <summary>Publishes <paramref name="payload"/> serialized with source-generated metadata; returns the message's offset.</summary>
    /// <param name="idempotencyKey">See <see cref="PublishAsync(string, ReadOnlyMemory{byte}, bool, string?, CancellationToken)"/>.</param>
    public async Task<long> PublishAsync<T>(string room, T payload, JsonTypeInfo<T> typeInfo, bool excludeSelf = false, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        (await PublishTypedAsync(ReplyKind.Ack, room, payload, typeInfo, excludeSelf, idempotencyKey, cancellationToken).ConfigureAwait(false)).Number;

    /// <summary>
    /// As <see cref="PublishAsync(string, ReadOnlyMemory{byte}, bool, string?, CancellationToken)"/>, returning the
    /// whole <c>ack</c>: the offset and the room's epoch (null from a server older than protocol 1.1).
    /// A repeat of an idempotency key the server has seen returns the first publish's ack.
    /// </summary>
    public async Task<PublishAck> PublishWithAckAsync(string room, ReadOnlyMemory<byte> payloadJson, bool excludeSelf = false, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        ToAck(await PublishRawAsync(ReplyKind.AckWithEpoch, room, payloadJson, excludeSelf, idempotencyKey, cancellationToken).ConfigureAwait(false));

    /// <summary>Publishes a JSON value to a joined room; returns the offset and epoch.</summary>
    public async Task<PublishAck> PublishWithAckAsync(string room, JsonElement payload, bool excludeSelf = false, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        ToAck(await PublishElementAsync(ReplyKind.AckWithEpoch, room, payload, excludeSelf, idempotencyKey, cancellationToken).ConfigureAwait(false));

    /// <summary>Publishes <paramref name="payload"/> serialized with source-generated metadata; returns the offset and epoch.</summary>
    public async Task<PublishAck> PublishWithAckAsync<T>(string room, T payload, JsonTypeInfo<T> typeInfo, bool excludeSelf = false, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        ToAck(await PublishTypedAsync(ReplyKind.AckWithEpoch, room, payload, typeInfo, excludeSelf, idempotencyKey, cancellationToken).ConfigureAwait(false));

    /// <summary>
    /// A fresh idempotency key: 22 base64url characters (<c>A–Z a–z 0–9 - _</c>) of 128 random bits.
    /// The publish methods make one per call; make your own with this when you retry a publish
    /// yourself, and pass the same one each time.
    /// </summary>
    public static string NewIdempotencyKey() => IdempotencyKey.NewString();

    private static PublishAck ToAck(Reply reply) => new(reply.Number, reply.Epoch);

    // The key is made once here, before the first attempt: RequestAsync writes every attempt's frame
    // from the same state, so retries after `unavailable` carry the same key (with a new id).
    private Task<Reply> PublishRawAsync(ReplyKind kind, string room, ReadOnlyMemory<byte> payloadJson, bool excludeSelf, string? idempotencyKey, CancellationToken cancellationToken)
    {
        ValidateRoom(room);
        var key = IdempotencyKey.From(idempotencyKey);
        return RequestAsync(kind, null, _time.GetTimestamp(), "publish", (room, payloadJson, excludeSelf, key),
            static (w, s, id) =>
            {
                var json = WritePublishHead(w, id, s.room, s.excludeSelf, s.key);
                json.WriteRawValue(s.payloadJson.Span);
                return EndData(w);
            }, cancellationToken);
    }

    private Task<Reply> PublishElementAsync(ReplyKind kind, string room, JsonElement payload, bool excludeSelf, string? idempotencyKey, CancellationToken cancellationToken)
    {
        ValidateRoom(room);
        var key = IdempotencyKey.From(idempotencyKey);
        return RequestAsync(kind, null, _time.GetTimestamp(), "publish", (room, payload, excludeSelf, key),
            static (w, s, id) =>
            {
                var json = WritePublishHead(w, id, s.room, s.excludeSelf, s.key);
                s.payload.WriteTo(json);
                return EndData(w);
            }, cancellationToken);
    }

    private Task<Reply> PublishTypedAsync<T>(ReplyKind kind, string room, T payload, JsonTypeInfo<T> typeInfo, bool excludeSelf, string? idempotencyKey, CancellationToken cancellationToken)
    {
        ValidateRoom(room);
        ArgumentNullException.ThrowIfNull(typeInfo);
        var key = IdempotencyKey.From(idempotencyKey);
        return RequestAsync(kind, null, _time.GetTimestamp(), "publish", (room, payload, typeInfo, excludeSelf, key),
            static (w, s, id) =>
            {
                var json = WritePublishHead(w, id, s.room, s.excludeSelf, s.key);
                JsonSerializer.Serialize(json, s.payload, s.typeInfo);
                return EndData(w);
            }, cancellationToken);
    }

    /// <summary>
    /// Sends raw UTF-8 JSON to every connection of <paramref name="user"/>; returns how many were
    /// reached (0 when offline). Keep the bytes unchanged until the task completes (see <see cref="PublishAsync(string, ReadOnlyMemory{byte}, bool, string?, CancellationToken)"/>).
    /// </summary>
    public async Task<int> SendAsync(string user, ReadOnlyMemory<byte> payloadJson, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(user);
        var start = _time.GetTimestamp();
        var reply = await RequestAsync(ReplyKind.Delivered, null, start, "send", (user, payloadJson),
            static (w, s, id) =>
            {
                var json = WriteSendHead(w, id, s.user);
                json.WriteRawValue(s.payloadJson.Span);
                return EndData(w);
            }, cancellationToken).ConfigureAwait(false);
        return (int)reply.Number;
    }

    /// <summary>Sends a JSON value to every connection of <paramref name="user"/>; returns how many were reached.</summary>
    public async Task<int> SendAsync(string user, JsonElement payload, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(user);
        var start = _time.GetTimestamp();
        var reply = await RequestAsync(ReplyKind.Delivered, null, start, "send", (user, payload),
            static (w, s, id) =>
            {
                var json = WriteSendHead(w, id, s.user);
                s.payload.WriteTo(json);
                return EndData(w);
            }, cancellationToken).ConfigureAwait(false);
        return (int)reply.Number;
    }

    /// <summary>Sends <paramref name="payload"/>, serialized with source-generated metadata, to <paramref name="user"/>.</summary>
    public async Task<int> SendAsync<T>(string user, T payload, JsonTypeInfo<T> typeInfo, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(user);
        ArgumentNullException.ThrowIfNull(typeInfo);
        var start = _time.GetTimestamp();
        var reply = await RequestAsync(ReplyKind.Delivered, null, start, "send", (user, payload, typeInfo),
            static (w, s, id) =>
            {
                var json = WriteSendHead(w, id, s.user);
                JsonSerializer.Serialize(json, s.payload, s.typeInfo);
                return EndData(w);
            }, cancellationToken).ConfigureAwait(false);
        return (int)reply.Number;
    }

    /// <summary>Round trip to the server (<c>ping</c> → <c>pong</c>).</summary>
    public async Task PingAsync(CancellationToken cancellationToken = default)
    {
        var start = _time.GetTimestamp();
        await RequestAsync(ReplyKind.Pong, null, start, "ping", 0,
            static (w, _, id) =>
            {
                w.Begin(FrameTypes.Ping, id);
                return w.End();
            }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Closes with 1000 and stops reconnecting; forgets the joined rooms. Requests in flight fail
    /// with <see cref="BrokerException.Disconnected"/>. Idempotent.
    /// </summary>
    public async Task CloseAsync()
    {
        BrokerConnection? connection;
        Task? supervisor;
        lock (_gate)
        {
            if (_state is BrokerClientState.Closed or BrokerClientState.Disconnected) return;
            _lifetime?.Cancel();
            connection = _connection;
            supervisor = _supervisor;
            _connection = null;
            _supervisor = null;
            _state = BrokerClientState.Closed;
            _ready.TrySetResult(null);
        }
        if (connection is not null)
        {
            await connection.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CloseHandshakeTimeout).ConfigureAwait(false);
            if (connection.ReceiveLoop is { } loop)
            {
                try { await loop.WaitAsync(CloseHandshakeTimeout, _time).ConfigureAwait(false); }
                catch (TimeoutException) { connection.Abort(CloseCodes.Normal, "closed by the client"); }
            }
            connection.Dispose();
        }
        if (supervisor is not null)
        {
            try { await supervisor.WaitAsync(CloseHandshakeTimeout, _time).ConfigureAwait(false); }
            catch (TimeoutException) { /* it stops at its next step; nothing waits on it */ }
        }
        _pending.FailAll(static _ => new BrokerException(BrokerException.Disconnected, "The client was closed."));
        lock (_rooms) _rooms.Clear();
        RaiseStateChanged(BrokerClientState.Closed);
        RaiseClosed(new ConnectionClosed(CloseCodes.Normal, null, WillReconnect: false));
    }

    /// <summary>Closes (see <see cref="CloseAsync"/>) and releases the client.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
        }
        await CloseAsync().ConfigureAwait(false);
        _messages?.Writer.TryComplete();
        _http?.Dispose();
        _sseHttp?.Dispose();
    }

    /// <summary>Whether <paramref name="room"/> is a valid room name (<c>^[A-Za-z0-9_.:-]{1,128}$</c>).</summary>
    public static bool IsValidRoom(string? room) => room is not null && RoomName().IsMatch(room);

    [GeneratedRegex("^[A-Za-z0-9_.:-]{1,128}$", RegexOptions.CultureInvariant)]
    private static partial Regex RoomName();

    private static void ValidateRoom(string room)
    {
        if (!IsValidRoom(room))
            throw new ArgumentException("A room name is 1–128 characters of A–Z, a–z, 0–9, '_', '.', ':' or '-'.", nameof(room));
    }

    /// <summary>A <c>join</c> frame, with <c>since</c> when a position is known (an explicit join from a position, or a rejoin).</summary>
    private static ReadOnlyMemory<byte> WriteJoin(FrameWriter w, string room, string? sinceEpoch, long sinceOffset, long id)
    {
        var json = w.Begin(FrameTypes.Join, id);
        json.WriteStartObject("data"u8);
        json.WriteString("room"u8, room);
        if (sinceEpoch is not null)
        {
            json.WriteStartObject("since"u8);
            json.WriteString("epoch"u8, sinceEpoch);
            json.WriteNumber("offset"u8, sinceOffset);
            json.WriteEndObject();
        }
        return w.EndWithData();
    }

    private static Utf8JsonWriter WritePublishHead(FrameWriter w, long id, string room, bool excludeSelf, IdempotencyKey key)
    {
        var json = w.Begin(FrameTypes.Publish, id);
        json.WriteStartObject("data"u8);
        json.WriteString("room"u8, room);
        if (excludeSelf) json.WriteBoolean("excludeSelf"u8, true);
        key.WriteTo(json);
        json.WritePropertyName("payload"u8);
        return json;
    }

    private static Utf8JsonWriter WriteSendHead(FrameWriter w, long id, string user)
    {
        var json = w.Begin(FrameTypes.Send, id);
        json.WriteStartObject("data"u8);
        json.WriteString("user"u8, user);
        json.WritePropertyName("payload"u8);
        return json;
    }

    private static ReadOnlyMemory<byte> EndData(FrameWriter w) => w.EndWithData();

    private static TaskCompletionSource<BrokerConnection?> NewReady() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
