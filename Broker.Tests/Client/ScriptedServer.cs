using System.Net.WebSockets;
using System.Text;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit.Sdk;

namespace Broker.Tests.Client;

/// <summary>
/// A WebSocket server whose every move a test scripts: it accepts connections on <c>/ws/{route}</c>
/// and hands each to the test as a <see cref="ServerSide"/>. For the client behaviours the real
/// broker cannot be made to show on demand (a close 1000, 4403, 1011 or 4508, duplicate replays, a
/// new epoch, an oversized frame, a reply that never comes).
/// </summary>
public sealed class ScriptedServer : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = ClientEvents.Timeout;

    private readonly WebApplication _app;
    private readonly Channel<ServerSide> _accepted;

    private readonly List<ServerSide> _sides;

    private ScriptedServer(WebApplication app, Channel<ServerSide> accepted, List<ServerSide> sides, Uri url)
    {
        _sides = sides;
        _app = app;
        _accepted = accepted;
        Url = url;
    }

    /// <summary><c>ws://127.0.0.1:port/ws/chat</c>.</summary>
    public Uri Url { get; }

    public static async Task<ScriptedServer> StartAsync()
    {
        var accepted = Channel.CreateUnbounded<ServerSide>();
        var sides = new List<ServerSide>();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.UseWebSockets();
        app.Map("/ws/{route}", async context =>
        {
            if (!context.WebSockets.IsWebSocketRequest)
            {
                context.Response.StatusCode = StatusCodes.Status400BadRequest;
                return;
            }
            using var socket = await context.WebSockets.AcceptWebSocketAsync();
            var side = new ServerSide(socket);
            lock (sides) sides.Add(side);
            accepted.Writer.TryWrite(side);
            await side.Finished;
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var port = new Uri(address).Port;
        return new ScriptedServer(app, accepted, sides, new Uri($"ws://127.0.0.1:{port}/ws/chat"));
    }

    /// <summary>The next connection the client opened.</summary>
    public async Task<ServerSide> AcceptAsync()
    {
        try
        {
            return await _accepted.Reader.ReadAsync().AsTask().WaitAsync(Timeout);
        }
        catch (TimeoutException)
        {
            throw new XunitException($"The client did not connect within {Timeout}.");
        }
    }

    /// <summary>Accepts the next connection, reads its <c>auth</c> frame and answers <c>welcome</c>.</summary>
    public async Task<ServerSide> AcceptAuthenticatedAsync(long? expiresAtMs = null)
    {
        var side = await AcceptAsync();
        var auth = await side.ReceiveAsync();
        if (auth.GetProperty("type").GetString() != "auth") throw new XunitException("expected auth first, got " + auth);
        side.Token = auth.GetProperty("data").GetProperty("token").GetString();
        await side.WelcomeAsync(expiresAtMs);
        return side;
    }

    /// <summary>Connects <paramref name="client"/> and accepts it as <see cref="AcceptAuthenticatedAsync"/> does: the side once both ends are up.</summary>
    public async Task<ServerSide> ConnectAsync(Broker.Client.BrokerClient client)
    {
        var connect = client.ConnectAsync();
        var side = await AcceptAuthenticatedAsync();
        await connect.WaitAsync(Timeout);
        return side;
    }

    private int _disposed;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        lock (_sides)
            foreach (var side in _sides) side.Abort();
        using var stop = new CancellationTokenSource(Timeout);
        await _app.StopAsync(stop.Token);
        await _app.DisposeAsync();
    }
}

/// <summary>
/// The server's end of one scripted connection. A pump reads every client frame into a queue and
/// answers a client's close frame at once, as a real server does.
/// </summary>
public sealed class ServerSide
{
    private static int _connections;
    private readonly WebSocket _socket;
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Channel<JsonElement> _frames = Channel.CreateUnbounded<JsonElement>();
    private readonly Task _pump;
    private int _closing;

    public ServerSide(WebSocket socket)
    {
        _socket = socket;
        _pump = PumpAsync();
    }

    public Task Finished => _finished.Task;

    public string Connection { get; } = "c" + Interlocked.Increment(ref _connections);

    /// <summary>The token of the <c>auth</c> frame, once read.</summary>
    public string? Token { get; set; }

    public Task WelcomeAsync(long? expiresAtMs = null, long intervalMs = 25_000, long timeoutMs = 10_000) =>
        SendAsync(JsonSerializer.Serialize(new
        {
            type = "welcome",
            data = new { connection = Connection, user = "u", node = "scripted", expiresAt = expiresAtMs, heartbeat = new { interval = intervalMs, timeout = timeoutMs } },
        }));

    public Task SendAsync(string json) => SendBytesAsync(Encoding.UTF8.GetBytes(json));

    public async Task SendBytesAsync(byte[] bytes)
    {
        using var cts = new CancellationTokenSource(ScriptedServer.Timeout);
        await _socket.SendAsync(bytes, WebSocketMessageType.Text, true, cts.Token);
    }

    /// <summary>The next text frame from the client, parsed.</summary>
    public async Task<JsonElement> ReceiveAsync()
    {
        try
        {
            return await _frames.Reader.ReadAsync().AsTask().WaitAsync(ScriptedServer.Timeout);
        }
        catch (TimeoutException)
        {
            throw new XunitException($"No frame from the client within {ScriptedServer.Timeout}.");
        }
        catch (ChannelClosedException)
        {
            throw new XunitException("The client closed instead of sending a frame.");
        }
    }

    /// <summary>Reads frames until one of <paramref name="type"/>.</summary>
    public async Task<JsonElement> ReceiveAsync(string type)
    {
        while (true)
        {
            var frame = await ReceiveAsync();
            if (frame.GetProperty("type").GetString() == type) return frame;
        }
    }

    /// <summary>Reads a <c>join</c> and answers <c>joined</c>, with optional <c>message</c> frames (the replay) first.</summary>
    public async Task<JsonElement> AnswerJoinAsync(string epoch, long offset, bool recovered, params long[] replay)
    {
        var join = await ReceiveAsync("join");
        var room = join.GetProperty("data").GetProperty("room").GetString()!;
        foreach (var n in replay) await MessageAsync(room, epoch, n);
        await SendAsync(JsonSerializer.Serialize(new
        {
            type = "joined",
            id = join.GetProperty("id").GetString(),
            data = new { room, epoch, offset, members = new[] { "u" }, recovered },
        }));
        return join;
    }

    public Task MessageAsync(string room, string epoch, long offset) =>
        SendAsync(JsonSerializer.Serialize(new { type = "message", data = new { room, offset, epoch, from = "publisher", payload = new { n = offset } } }));

    /// <summary>Sends a close frame with <paramref name="code"/> and waits for the client's (bounded).</summary>
    public async Task CloseAsync(int code, string reason = "")
    {
        Interlocked.Exchange(ref _closing, 1);
        using var cts = new CancellationTokenSource(ScriptedServer.Timeout);
        try
        {
            await _socket.CloseOutputAsync((WebSocketCloseStatus)code, reason, cts.Token);
            await _pump.WaitAsync(ScriptedServer.Timeout);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or TimeoutException)
        {
            // The client dropped instead; that ends it too.
        }
        finally
        {
            _finished.TrySetResult();
        }
    }

    /// <summary>Drops the connection without a close frame.</summary>
    public void Abort()
    {
        _socket.Abort();
        _finished.TrySetResult();
    }

    private async Task PumpAsync()
    {
        var buffer = new byte[256 * 1024];
        var length = 0;
        try
        {
            while (true)
            {
                var result = await _socket.ReceiveAsync(new ArraySegment<byte>(buffer, length, buffer.Length - length), CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    if (Interlocked.Exchange(ref _closing, 1) == 0)
                        await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
                    return;
                }
                length += result.Count;
                if (!result.EndOfMessage) continue;
                _frames.Writer.TryWrite(JsonDocument.Parse(buffer.AsMemory(0, length)).RootElement.Clone());
                length = 0;
            }
        }
        catch (Exception e) when (e is WebSocketException or ObjectDisposedException or OperationCanceledException)
        {
            // Aborted by either side.
        }
        finally
        {
            _frames.Writer.TryComplete();
            _finished.TrySetResult();
        }
    }
}
