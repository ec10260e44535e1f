using System.Buffers;
using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text.Json;
using System.Threading.Channels;

namespace Broker.Bench.Baselines;

/// <summary>
/// The near-limit reference: a room broadcast server on raw Kestrel WebSockets, with nothing the
/// broker's design adds (no actors, no streams, no JWT check, no history). It speaks the broker's
/// frames (<c>auth</c>/<c>welcome</c>, <c>join</c>/<c>joined</c>, <c>publish</c>/<c>ack</c>,
/// <c>message</c>, <c>ping</c>/<c>pong</c>) so the same lean client drives both. What it keeps is
/// what any sound server needs: zero-byte reads while idle, a room table, each message serialized
/// once, a bounded queue per connection (full = cut off, as the broker does), and a heartbeat.
/// </summary>
public sealed class RawKestrelBroadcastServer
{
    private static readonly byte[] Ping = """{"type":"ping"}"""u8.ToArray();
    private static readonly byte[] Welcome = """{"type":"welcome","data":{}}"""u8.ToArray();
    private static readonly byte[] Pong = """{"type":"pong"}"""u8.ToArray();

    private readonly TimeSpan _heartbeat;
    private readonly int _queue;
    private readonly ConcurrentDictionary<string, Room> _rooms = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Connection, byte> _connections = new();

    public RawKestrelBroadcastServer(TimeSpan heartbeat, int outboundQueue)
    {
        _heartbeat = heartbeat;
        _queue = outboundQueue;
    }

    public int Connections => _connections.Count;

    public void Map(WebApplication app)
    {
        app.UseWebSockets();
        app.Map("/ws/raw", HandleAsync);
        _ = HeartbeatAsync(app.Lifetime.ApplicationStopping);
    }

    private async Task HandleAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = 400;
            return;
        }
        using var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext { KeepAliveInterval = TimeSpan.Zero });
        var connection = new Connection(socket, _queue);
        _connections[connection] = 0;
        try
        {
            var writer = connection.WriteLoopAsync();
            await ReadLoopAsync(connection);
            connection.Abort();
            await writer;
        }
        finally
        {
            _connections.TryRemove(connection, out _);
            foreach (var room in connection.Rooms) room.Remove(connection);
        }
    }

    private async Task ReadLoopAsync(Connection connection)
    {
        var socket = connection.Socket;
        try
        {
            while (true)
            {
                // Zero-byte read: an idle connection holds no buffer.
                var first = await socket.ReceiveAsync(Memory<byte>.Empty, connection.Aborted);
                if (first.MessageType == WebSocketMessageType.Close) return;
                var buffer = ArrayPool<byte>.Shared.Rent(4096);
                try
                {
                    var count = 0;
                    var end = first.EndOfMessage;
                    while (!end)
                    {
                        if (count == buffer.Length)
                        {
                            if (count >= 64 * 1024) return; // too big: drop the connection
                            var bigger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                            buffer.AsSpan(0, count).CopyTo(bigger);
                            ArrayPool<byte>.Shared.Return(buffer);
                            buffer = bigger;
                        }
                        var result = await socket.ReceiveAsync(buffer.AsMemory(count), connection.Aborted);
                        if (result.MessageType == WebSocketMessageType.Close) return;
                        count += result.Count;
                        end = result.EndOfMessage;
                    }
                    connection.Alive = true;
                    Handle(connection, buffer.AsSpan(0, count));
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
    }

    private void Handle(Connection connection, ReadOnlySpan<byte> frame)
    {
        var request = Request.Parse(frame);
        switch (request.Type)
        {
            case "auth":
                connection.User = "user";
                connection.TryEnqueue(Welcome);
                break;
            case "ping":
                connection.TryEnqueue(Pong);
                break;
            case "join" when request.Room is not null:
                var room = _rooms.GetOrAdd(request.Room, static name => new Room(name));
                room.Add(connection);
                connection.Rooms.Add(room);
                connection.TryEnqueue(Reply("joined", request.Id, request.Room, -1));
                break;
            case "publish" when request.Room is not null && request.PayloadLength > 0:
                if (!_rooms.TryGetValue(request.Room, out var target)) break;
                var offset = target.Broadcast(frame.Slice(request.PayloadStart, request.PayloadLength), connection.User ?? "anon",
                    request.ExcludeSelf ? connection : null);
                connection.TryEnqueue(Reply("ack", request.Id, null, offset));
                break;
        }
    }

    private static byte[] Reply(string type, string? id, string? room, long offset)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("type"u8, type);
            if (id is not null) writer.WriteString("id"u8, id);
            writer.WriteStartObject("data"u8);
            if (room is not null) writer.WriteString("room"u8, room);
            if (offset >= 0) writer.WriteNumber("offset"u8, offset);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Same rule as the broker's: ping every interval; silent since the previous ping = cut off.</summary>
    private async Task HeartbeatAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(_heartbeat);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping))
            {
                foreach (var (connection, _) in _connections)
                {
                    if (connection.User is null) continue;
                    if (connection.Pinged && !connection.Alive)
                    {
                        connection.Abort();
                        continue;
                    }
                    connection.Pinged = true;
                    connection.Alive = false;
                    connection.TryEnqueue(Ping);
                }
            }
        }
        catch (OperationCanceledException) { }
    }

    /// <summary>The fields of a client frame the server needs, read with a forward-only reader (no DOM).</summary>
    private ref struct Request
    {
        public string? Type;
        public string? Id;
        public string? Room;
        public int PayloadStart;
        public int PayloadLength;
        public bool ExcludeSelf;

        public static Request Parse(ReadOnlySpan<byte> frame)
        {
            var request = new Request();
            try
            {
                var reader = new Utf8JsonReader(frame);
                if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return request;
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    if (reader.ValueTextEquals("type"u8)) { reader.Read(); request.Type = reader.GetString(); }
                    else if (reader.ValueTextEquals("id"u8)) { reader.Read(); request.Id = reader.GetString(); }
                    else if (reader.ValueTextEquals("data"u8))
                    {
                        reader.Read();
                        if (reader.TokenType != JsonTokenType.StartObject) { reader.Skip(); continue; }
                        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                        {
                            if (reader.ValueTextEquals("room"u8)) { reader.Read(); request.Room = reader.GetString(); }
                            else if (reader.ValueTextEquals("excludeSelf"u8)) { reader.Read(); request.ExcludeSelf = reader.TokenType == JsonTokenType.True; }
                            else if (reader.ValueTextEquals("payload"u8))
                            {
                                reader.Read();
                                request.PayloadStart = (int)reader.TokenStartIndex;
                                reader.Skip();
                                request.PayloadLength = (int)reader.BytesConsumed - request.PayloadStart;
                            }
                            else { reader.Read(); reader.Skip(); }
                        }
                    }
                    else { reader.Read(); reader.Skip(); }
                }
            }
            catch (JsonException) { request.Type = null; }
            return request;
        }
    }

    private sealed class Room(string name)
    {
        private readonly Lock _gate = new();
        private readonly List<Connection> _members = new();
        private Connection[] _snapshot = [];
        private long _offset;

        public void Add(Connection connection)
        {
            lock (_gate)
            {
                _members.Add(connection);
                _snapshot = _members.ToArray();
            }
        }

        public void Remove(Connection connection)
        {
            lock (_gate)
            {
                if (_members.Remove(connection)) _snapshot = _members.ToArray();
            }
        }

        /// <summary>Serializes the message once and queues the same array on every member, in offset order.</summary>
        public long Broadcast(ReadOnlySpan<byte> payload, string from, Connection? exclude)
        {
            lock (_gate)
            {
                var offset = ++_offset;
                var buffer = new ArrayBufferWriter<byte>(payload.Length + 128);
                using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = true }))
                {
                    writer.WriteStartObject();
                    writer.WriteString("type"u8, "message"u8);
                    writer.WriteStartObject("data"u8);
                    writer.WriteString("room"u8, name);
                    writer.WriteNumber("offset"u8, offset);
                    writer.WriteString("epoch"u8, "raw"u8);
                    writer.WriteString("from"u8, from);
                    writer.WritePropertyName("payload"u8);
                    writer.WriteRawValue(payload, skipInputValidation: true);
                    writer.WriteEndObject();
                    writer.WriteEndObject();
                }
                var frame = buffer.WrittenSpan.ToArray();
                foreach (var member in _snapshot)
                    if (!ReferenceEquals(member, exclude)) member.TryEnqueue(frame);
                return offset;
            }
        }
    }

    private sealed class Connection
    {
        private readonly Channel<byte[]> _outbound;
        private readonly CancellationTokenSource _abort = new();

        public Connection(WebSocket socket, int queue)
        {
            Socket = socket;
            _outbound = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(queue)
            {
                SingleReader = true,
                FullMode = BoundedChannelFullMode.Wait, // TryWrite fails when full: the slow-consumer signal
            });
        }

        public WebSocket Socket { get; }
        public CancellationToken Aborted => _abort.Token;
        public string? User { get; set; }
        public List<Room> Rooms { get; } = new();
        public volatile bool Alive;
        public volatile bool Pinged;

        public void TryEnqueue(byte[] frame)
        {
            if (!_outbound.Writer.TryWrite(frame)) Abort(); // queue full: a slow consumer is cut off
        }

        public void Abort()
        {
            _outbound.Writer.TryComplete();
            if (_abort.IsCancellationRequested) return;
            try { _abort.Cancel(); } catch (ObjectDisposedException) { }
            Socket.Abort();
        }

        public async Task WriteLoopAsync()
        {
            var reader = _outbound.Reader;
            try
            {
                while (await reader.WaitToReadAsync())
                    while (reader.TryRead(out var frame))
                        await Socket.SendAsync(frame, WebSocketMessageType.Text, endOfMessage: true, _abort.Token);
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
            {
                Abort();
            }
        }
    }
}
