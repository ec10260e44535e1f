using System.Net;
using System.Net.Sockets;

namespace Broker.Tests.Infrastructure;

/// <summary>
/// A loopback TCP proxy in front of a test host, to break connections the way networks do:
/// <see cref="DropAllAsync"/> resets every connection at once (both sides see a reset, no close
/// frame); <see cref="Blackhole"/> keeps connections open but stops forwarding bytes, in both
/// directions and for new connections too (a dead peer that never says so).
/// </summary>
public sealed class TcpProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private volatile IPEndPoint _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _lock = new();
    private readonly List<Pair> _pairs = [];
    private readonly Task _acceptLoop;
    private volatile bool _blackhole;
    private int _accepted;

    /// <summary>Starts listening on <c>127.0.0.1:0</c> and forwards to <paramref name="target"/>.</summary>
    public TcpProxy(IPEndPoint target)
    {
        _target = target;
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _acceptLoop = AcceptLoopAsync();
    }

    /// <summary>A proxy in front of <paramref name="host"/>.</summary>
    public TcpProxy(BrokerTestHost host) : this(new IPEndPoint(IPAddress.Loopback, host.BaseUri.Port)) { }

    /// <summary>
    /// Where new connections are forwarded; settable to re-point the proxy (a client whose node
    /// died finds another behind the same address, as behind a load balancer). Open ones stay put.
    /// </summary>
    public IPEndPoint Target
    {
        get => _target;
        set => _target = value;
    }

    /// <summary>The port the proxy listens on.</summary>
    public int Port { get; }

    /// <summary><c>ws://127.0.0.1:{Port}/ws/{route}</c>.</summary>
    public Uri WebSocketUri(string route) => new($"ws://127.0.0.1:{Port}/ws/{route}");

    /// <summary>Connections accepted so far.</summary>
    public int Accepted => Volatile.Read(ref _accepted);

    /// <summary>While true, bytes read from either side are discarded; nothing is closed.</summary>
    public bool Blackhole
    {
        get => _blackhole;
        set => _blackhole = value;
    }

    /// <summary>Resets every open connection (RST on both sides).</summary>
    public Task DropAllAsync()
    {
        Pair[] pairs;
        lock (_lock)
        {
            pairs = _pairs.ToArray();
            _pairs.Clear();
        }
        foreach (var pair in pairs) pair.Reset();
        return Task.WhenAll(pairs.Select(p => p.Completion));
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        try { await _acceptLoop; } catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException) { }
        await DropAllAsync();
        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            Interlocked.Increment(ref _accepted);
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(Socket client)
    {
        var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        client.NoDelay = true;
        try
        {
            await server.ConnectAsync(_target, _stop.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            client.Dispose();
            server.Dispose();
            return;
        }
        var pair = new Pair(client, server);
        lock (_lock) _pairs.Add(pair);
        pair.Completion = Task.WhenAll(PumpAsync(client, server, pair), PumpAsync(server, client, pair));
        await pair.Completion;
        lock (_lock) _pairs.Remove(pair);
        pair.Close();
    }

    private async Task PumpAsync(Socket from, Socket to, Pair pair)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                var read = await from.ReceiveAsync(buffer, SocketFlags.None);
                if (read == 0) break;
                if (_blackhole) continue;
                await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None);
            }
            // Orderly end on one side: pass the FIN along.
            try { to.Shutdown(SocketShutdown.Send); } catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            pair.Reset();
        }
    }

    private sealed class Pair(Socket client, Socket server)
    {
        private int _reset;

        public Task Completion { get; set; } = Task.CompletedTask;

        /// <summary>Releases both sockets after both directions ended.</summary>
        public void Close()
        {
            if (Interlocked.Exchange(ref _reset, 1) == 1) return;
            client.Dispose();
            server.Dispose();
        }

        /// <summary>Closes both sockets with linger 0, which sends RST instead of FIN.</summary>
        public void Reset()
        {
            if (Interlocked.Exchange(ref _reset, 1) == 1) return;
            foreach (var socket in new[] { client, server })
            {
                try { socket.LingerState = new LingerOption(true, 0); } catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
                socket.Dispose();
            }
        }
    }
}
