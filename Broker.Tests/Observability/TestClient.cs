using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace Broker.Tests.Observability;

/// <summary>
/// A WebSocket client for the scenario. Its reader answers every server <c>ping</c> with a
/// <c>pong</c> (unless <see cref="Silent"/>) and queues every other frame.
/// </summary>
public sealed class TestClient : IAsyncDisposable
{
    private readonly ClientWebSocket _socket = new();
    private readonly Channel<JsonElement> _frames = Channel.CreateUnbounded<JsonElement>();
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<JsonElement> _held = new();
    private Task _reader = Task.CompletedTask;

    /// <summary>A silent client never answers pings (the heartbeat should cut it off).</summary>
    public bool Silent { get; init; }

    /// <summary>Completes with the close status and description once the server closed the socket.</summary>
    public TaskCompletionSource<(WebSocketCloseStatus? Status, string? Description)> Closed { get; } =
        new(TaskCreationOptions.RunContinuationsAsynchronously);

    public static async Task<TestClient> ConnectAsync(Uri uri, bool silent = false)
    {
        var client = new TestClient { Silent = silent };
        await client._socket.ConnectAsync(uri, CancellationToken.None).WaitAsync(ObservabilityHost.Timeout);
        client._reader = client.ReadAsync();
        return client;
    }

    public Task SendAsync(object frame) => SendRawAsync(JsonSerializer.Serialize(frame));

    private async Task SendRawAsync(string json)
    {
        await _sendLock.WaitAsync(ObservabilityHost.Timeout);
        try
        {
            await _socket.SendAsync(Encoding.UTF8.GetBytes(json), WebSocketMessageType.Text, true, CancellationToken.None)
                .WaitAsync(ObservabilityHost.Timeout);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>
    /// The first frame of type <paramref name="type"/> not yet taken. Frames of other types stay
    /// for later calls: an <c>ack</c> and the <c>message</c> it acknowledges travel different paths
    /// and may arrive in either order.
    /// </summary>
    public async Task<JsonElement> ExpectAsync(string type)
    {
        var held = _held.FindIndex(f => f.GetProperty("type").GetString() == type);
        if (held >= 0)
        {
            var frame = _held[held];
            _held.RemoveAt(held);
            return frame;
        }
        using var timeout = new CancellationTokenSource(ObservabilityHost.Timeout);
        while (true)
        {
            var frame = await _frames.Reader.ReadAsync(timeout.Token);
            if (frame.GetProperty("type").GetString() == type) return frame;
            _held.Add(frame);
        }
    }

    public async Task CloseAsync()
    {
        await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None).WaitAsync(ObservabilityHost.Timeout);
        await Closed.Task.WaitAsync(ObservabilityHost.Timeout);
    }

    private async Task ReadAsync()
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                using var message = new MemoryStream();
                WebSocketReceiveResult result;
                do
                {
                    result = await _socket.ReceiveAsync(buffer, _stop.Token);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        Closed.TrySetResult((result.CloseStatus, result.CloseStatusDescription));
                        return;
                    }
                    message.Write(buffer, 0, result.Count);
                } while (!result.EndOfMessage);

                var frame = JsonDocument.Parse(message.ToArray()).RootElement.Clone();
                if (frame.GetProperty("type").GetString() == "ping")
                {
                    if (!Silent) await SendRawAsync("""{"type":"pong"}""");
                    continue;
                }
                _frames.Writer.TryWrite(frame);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            Closed.TrySetResult((null, e.Message));
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        try { await _reader.WaitAsync(ObservabilityHost.Timeout); } catch (Exception) { /* reader ended by cancellation */ }
        _socket.Dispose();
    }
}
