using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace Broker.Tests.Cluster;

/// <summary>
/// A protocol-level test client over a real <see cref="ClientWebSocket"/>: send envelopes, read
/// the next frame of a type, observe the close. Every wait has a timeout.
/// </summary>
public sealed class WsClient : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);
    private readonly ClientWebSocket _socket = new();
    private readonly byte[] _buffer = new byte[256 * 1024];

    public WebSocketCloseStatus? CloseStatus => _socket.CloseStatus;
    public string? CloseDescription => _socket.CloseStatusDescription;

    /// <summary>Connects and authenticates with a first-message JWT; returns the <c>welcome</c> data.</summary>
    public static async Task<(WsClient Client, JsonElement Welcome)> ConnectAsync(Uri uri, string token)
    {
        var client = new WsClient();
        await client._socket.ConnectAsync(uri, CancellationToken.None).WaitAsync(Timeout);
        await client.SendAsync(new { type = "auth", data = new { token } });
        var welcome = await client.NextAsync("welcome");
        return (client, welcome.GetProperty("data"));
    }

    /// <summary>Connects with a handshake ticket; returns the <c>welcome</c> data, or the HTTP status that refused the upgrade.</summary>
    public static async Task<(WsClient? Client, JsonElement Welcome, int Status)> ConnectWithTicketAsync(Uri uri, string ticket)
    {
        var client = new WsClient();
        client._socket.Options.CollectHttpResponseDetails = true;
        try
        {
            await client._socket.ConnectAsync(new Uri($"{uri}?ticket={Uri.EscapeDataString(ticket)}"), CancellationToken.None).WaitAsync(Timeout);
        }
        catch (WebSocketException)
        {
            var status = (int)client._socket.HttpStatusCode;
            client._socket.Dispose();
            return (null, default, status);
        }
        var welcome = await client.NextAsync("welcome");
        return (client, welcome.GetProperty("data"), 101);
    }

    public Task SendAsync(object envelope) => SendTextAsync(JsonSerializer.Serialize(envelope));

    public Task SendTextAsync(string text) =>
        _socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None).WaitAsync(Timeout);

    /// <summary>The next frame of <paramref name="type"/>, skipping others (server pings are answered).</summary>
    public Task<JsonElement> NextAsync(string type) => NextAsync(type, Timeout);

    /// <summary>As <see cref="NextAsync(string)"/>, waiting up to <paramref name="timeout"/> per frame.</summary>
    public async Task<JsonElement> NextAsync(string type, TimeSpan timeout)
    {
        while (true)
        {
            var frame = await ReceiveAsync(timeout);
            var actual = frame.GetProperty("type").GetString();
            if (actual == type) return frame;
            if (actual == "ping") await SendAsync(new { type = "pong" });
        }
    }

    /// <summary>The next frame of any type but <c>ping</c>.</summary>
    public async Task<JsonElement> NextAnyAsync()
    {
        while (true)
        {
            var frame = await ReceiveAsync(Timeout);
            if (frame.GetProperty("type").GetString() != "ping") return frame;
            await SendAsync(new { type = "pong" });
        }
    }

    /// <summary>Reads until the server closes; returns its close code. Frames before it are discarded.</summary>
    public async Task<int> ClosedAsync()
    {
        try
        {
            while (true)
            {
                var result = await _socket.ReceiveAsync(_buffer, CancellationToken.None).WaitAsync(Timeout);
                if (result.MessageType == WebSocketMessageType.Close) return (int)result.CloseStatus!;
            }
        }
        catch (WebSocketException)
        {
            return 1006; // dropped without a close frame
        }
    }

    private async Task<JsonElement> ReceiveAsync(TimeSpan timeout)
    {
        var count = 0;
        while (true)
        {
            var result = await _socket.ReceiveAsync(_buffer.AsMemory(count), CancellationToken.None).AsTask().WaitAsync(timeout);
            if (result.MessageType == WebSocketMessageType.Close)
                throw new InvalidOperationException($"closed by server: {_socket.CloseStatus} {_socket.CloseStatusDescription}");
            count += result.Count;
            if (result.EndOfMessage) break;
        }
        using var document = JsonDocument.Parse(_buffer.AsMemory(0, count));
        return document.RootElement.Clone();
    }

    public async ValueTask DisposeAsync()
    {
        if (_socket.State == WebSocketState.Open)
        {
            try { await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(2)); }
            catch (Exception) { /* the server may already be gone */ }
        }
        _socket.Dispose();
    }
}
