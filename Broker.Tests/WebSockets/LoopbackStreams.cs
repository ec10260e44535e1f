using System.Net;
using System.Net.Sockets;

namespace Broker.Tests.WebSockets;

/// <summary>
/// The two ends of one TCP connection on 127.0.0.1: the stream a server socket writes to and the
/// one a real client <see cref="System.Net.WebSockets.WebSocket"/> reads, with the kernel between them.
/// </summary>
public sealed class LoopbackStreams : IAsyncDisposable
{
    private readonly TcpClient _client;
    private readonly TcpClient _server;

    private LoopbackStreams(TcpClient server, TcpClient client)
    {
        _server = server;
        _client = client;
        Server = server.GetStream();
        Client = client.GetStream();
    }

    public NetworkStream Server { get; }
    public NetworkStream Client { get; }

    public static async Task<LoopbackStreams> OpenAsync()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            var client = new TcpClient();
            var accept = listener.AcceptTcpClientAsync();
            await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
            return new LoopbackStreams(await accept, client);
        }
        finally
        {
            listener.Stop();
        }
    }

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        _server.Dispose();
        return ValueTask.CompletedTask;
    }
}
