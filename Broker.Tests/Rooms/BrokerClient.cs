using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Xunit;
using Xunit.Sdk;

namespace Broker.Tests.Rooms;

/// <summary>
/// A test client speaking the wire protocol over a real <see cref="ClientWebSocket"/>. Frames that
/// a test did not ask for yet are kept in arrival order, so a test can wait for one kind of frame
/// (say, an <c>ack</c>) without losing the others. Server <c>ping</c>s are answered and hidden.
/// Every wait has <see cref="BrokerHost.StepTimeout"/>.
/// </summary>
public sealed class BrokerClient : IAsyncDisposable
{
    private static readonly JsonSerializerOptions Json = new()
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
    };

    private readonly ClientWebSocket _socket = new();
    private readonly List<JsonElement> _unread = [];
    private int _nextId;

    private BrokerClient(string user) => User = user;

    public string User { get; }

    /// <summary>The data of the <c>welcome</c> frame.</summary>
    public JsonElement Welcome { get; private set; }

    /// <summary>Connects to <c>/ws/{route}</c> and authenticates with a first-message JWT for <paramref name="user"/>.</summary>
    public static async Task<BrokerClient> ConnectAsync(BrokerHost host, string user, string route = "chat")
    {
        var token = await host.TokenAsync(user);
        var client = new BrokerClient(user);
        using (var timeout = new CancellationTokenSource(BrokerHost.StepTimeout))
            await client._socket.ConnectAsync(host.WebSocketUri(route), timeout.Token);
        await client.SendAsync(new { type = "auth", data = new { token } });
        var welcome = await client.NextAsync();
        Assert.Equal("welcome", welcome.Type());
        Assert.Equal(user, welcome.Data().Str("user"));
        client.Welcome = welcome.Data();
        return client;
    }

    /// <summary>A fresh correlation id.</summary>
    public string NewId(string prefix) => $"{prefix}{Interlocked.Increment(ref _nextId)}";

    public Task SendAsync(object envelope) => SendRawAsync(JsonSerializer.Serialize(envelope, Json));

    public async Task SendRawAsync(string json)
    {
        using var timeout = new CancellationTokenSource(BrokerHost.StepTimeout);
        await _socket.SendAsync(Encoding.UTF8.GetBytes(json), WebSocketMessageType.Text, endOfMessage: true, timeout.Token);
    }

    /// <summary>Joins and waits for <c>joined</c>; returns its data.</summary>
    public async Task<JsonElement> JoinAsync(string room, string? sinceEpoch = null, long? sinceOffset = null)
    {
        var id = await SendJoinAsync(room, sinceEpoch, sinceOffset);
        var joined = await WaitForAsync("joined", id);
        Assert.Equal(room, joined.Data().Str("room"));
        return joined.Data();
    }

    /// <summary>Sends <c>join</c> (with <c>since</c> when an epoch is given) and returns its id.</summary>
    public async Task<string> SendJoinAsync(string room, string? sinceEpoch = null, long? sinceOffset = null)
    {
        var id = NewId("join-");
        object data = sinceEpoch is null
            ? new { room }
            : new { room, since = new { epoch = sinceEpoch, offset = sinceOffset ?? 0 } };
        await SendAsync(new { type = "join", id, data });
        return id;
    }

    /// <summary>Sends <c>publish</c> and returns its id, without waiting for the <c>ack</c>.</summary>
    public async Task<string> SendPublishAsync(string room, object payload, bool? excludeSelf = null)
    {
        var id = NewId("pub-");
        await SendAsync(new { type = "publish", id, data = new { room, payload, excludeSelf } });
        return id;
    }

    /// <summary>Publishes and waits for the <c>ack</c>; returns its offset.</summary>
    public async Task<long> PublishAsync(string room, object payload, bool? excludeSelf = null)
    {
        var id = await SendPublishAsync(room, payload, excludeSelf);
        return (await WaitForAsync("ack", id)).Data().Long("offset");
    }

    /// <summary>Waits for the next <paramref name="count"/> <c>message</c> frames, in arrival order.</summary>
    public async Task<JsonElement[]> MessagesAsync(int count)
    {
        var messages = new JsonElement[count];
        for (var i = 0; i < count; i++) messages[i] = (await WaitForAsync("message")).Data();
        return messages;
    }

    /// <summary>The first unread frame of <paramref name="type"/> (and <paramref name="id"/>, if given); other frames stay unread.</summary>
    public Task<JsonElement> WaitForAsync(string type, string? id = null) =>
        WaitForAsync(f => f.Type() == type && (id is null || f.Id() == id), id is null ? type : $"{type} #{id}");

    public async Task<JsonElement> WaitForAsync(Func<JsonElement, bool> match, string what)
    {
        var index = _unread.FindIndex(f => match(f));
        if (index >= 0)
        {
            var found = _unread[index];
            _unread.RemoveAt(index);
            return found;
        }
        while (true)
        {
            var frame = await ReceiveAsync(what);
            if (match(frame)) return frame;
            _unread.Add(frame);
        }
    }

    /// <summary>The next frame, whatever it is (unread ones first).</summary>
    public async Task<JsonElement> NextAsync()
    {
        if (_unread.Count > 0)
        {
            var first = _unread[0];
            _unread.RemoveAt(0);
            return first;
        }
        return await ReceiveAsync("any frame");
    }

    /// <summary>Drops the connection without a close handshake, like a lost network.</summary>
    public void Drop() => _socket.Abort();

    /// <summary>Closes normally and waits for the server's close.</summary>
    public async Task CloseAsync()
    {
        using var timeout = new CancellationTokenSource(BrokerHost.StepTimeout);
        await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", timeout.Token);
    }

    public async ValueTask DisposeAsync()
    {
        if (_socket.State == WebSocketState.Open)
        {
            try { await CloseAsync(); }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException) { _socket.Abort(); }
        }
        _socket.Dispose();
    }

    private async Task<JsonElement> ReceiveAsync(string what)
    {
        using var timeout = new CancellationTokenSource(BrokerHost.StepTimeout);
        try
        {
            while (true)
            {
                using var buffer = new MemoryStream();
                var chunk = new byte[8192];
                WebSocketReceiveResult result;
                do
                {
                    result = await _socket.ReceiveAsync(chunk, timeout.Token);
                    if (result.MessageType == WebSocketMessageType.Close)
                        throw new XunitException($"{User}: the server closed ({result.CloseStatus} {result.CloseStatusDescription}) while waiting for {what}; unread: {Unread()}");
                    buffer.Write(chunk, 0, result.Count);
                } while (!result.EndOfMessage);
                var frame = Frame.Parse(buffer.ToArray());
                if (frame.Type() == "ping")
                {
                    await SendRawAsync("""{"type":"pong"}""");
                    continue;
                }
                return frame;
            }
        }
        catch (OperationCanceledException)
        {
            throw new XunitException($"{User}: no {what} within {BrokerHost.StepTimeout}; unread: {Unread()}");
        }
    }

    private string Unread() => _unread.Count == 0 ? "none" : string.Join(", ", _unread.Select(f => f.GetRawText()));
}
