using System.Net.WebSockets;

namespace Broker.Tests.WebSockets;

/// <summary>Reads one whole WebSocket message (every fragment), for tests that check what a real client WebSocket got.</summary>
public static class WholeMessages
{
    /// <summary>The next message's type and payload (a close: its type and no payload); fails after <paramref name="timeout"/>.</summary>
    public static async Task<(WebSocketMessageType Type, byte[] Payload)> ReceiveAsync(WebSocket socket, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        var buffer = new byte[128 * 1024];
        var count = 0;
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer.AsMemory(count), cancel.Token);
            count += result.Count;
            if (result.EndOfMessage || result.MessageType == WebSocketMessageType.Close)
                return (result.MessageType, buffer[..count]);
        }
    }
}
