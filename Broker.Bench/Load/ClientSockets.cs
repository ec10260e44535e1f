using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Broker.Bench.Load;

/// <summary>
/// HTTP invokers for <c>ClientWebSocket.ConnectAsync</c> whose sockets are bound to a chosen
/// loopback source address: one source address has ~28k ephemeral ports towards one server port,
/// so 50k connections need several (127.0.0.2, 127.0.0.3, …). ClientWebSocket cannot bind by
/// itself; a <see cref="SocketsHttpHandler.ConnectCallback"/> can.
/// </summary>
public static class ClientSockets
{
    /// <summary>Connections per source address before the next one is used (well under the ephemeral range).</summary>
    public const int PerSourceAddress = 20_000;

    private static readonly ConcurrentDictionary<(int Source, int ReceiveBuffer), HttpMessageInvoker> Invokers = new();

    /// <summary>The invoker for the <paramref name="index"/>-th connection of a run; <paramref name="receiveBuffer"/> &gt; 0 shrinks SO_RCVBUF (slow consumers).</summary>
    public static HttpMessageInvoker For(int index, int receiveBuffer = 0) =>
        Invokers.GetOrAdd((2 + (_base + index / PerSourceAddress) % 250, receiveBuffer), static key => Create(key.Source, key.ReceiveBuffer));

    private static int _base;

    /// <summary>
    /// Moves the next run to fresh source addresses: the previous run's sockets linger in
    /// TIME_WAIT and keep their ephemeral ports, which the next 10k–20k connections need.
    /// </summary>
    public static void NextRun(int connections) => _base += 1 + connections / PerSourceAddress;

    private static HttpMessageInvoker Create(int source, int receiveBuffer)
    {
        var address = new IPAddress([127, 0, 0, (byte)source]);
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    socket.Bind(new IPEndPoint(address, 0));
                    if (receiveBuffer > 0) socket.ReceiveBufferSize = receiveBuffer;
                    await socket.ConnectAsync(IPAddress.Parse(context.DnsEndPoint.Host), context.DnsEndPoint.Port, cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        return new HttpMessageInvoker(handler);
    }
}
