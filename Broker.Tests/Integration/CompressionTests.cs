using System.Net.WebSockets;

namespace Broker.Tests.Integration;

/// <summary>PROTOCOL §7: permessage-deflate is negotiated when the client offers it and the route enables it.</summary>
[Collection(SharedHostCollection.Name)]
public sealed class CompressionTests(SharedHostFixture fixture)
{
    private BrokerTestHost Host => fixture.Host;

    [Fact]
    public async Task Deflate_is_negotiated_on_a_compressed_route_and_frames_still_flow()
    {
        using var socket = NewDeflateOfferingSocket();
        using var timeout = new CancellationTokenSource(TestClient.DefaultTimeout);
        await socket.ConnectAsync(Host.WebSocketUri(SharedHostFixture.CompressedRoute), timeout.Token);

        Assert.Contains("permessage-deflate", Extensions(socket));
        await socket.SendAsync("""{"type":"ping","id":"z"}"""u8.ToArray(), WebSocketMessageType.Text, true, timeout.Token);
        var buffer = new byte[4096];
        var received = await socket.ReceiveAsync(buffer, timeout.Token);
        var frame = JsonNode.Parse(buffer.AsSpan(0, received.Count))!;
        Assert.Equal("error", frame["type"]!.GetValue<string>()); // not authenticated: the server still understood the compressed frame
        Assert.Equal("z", frame["id"]!.GetValue<string>());
    }

    [Fact]
    public async Task Deflate_is_not_negotiated_on_a_route_without_compression()
    {
        using var socket = NewDeflateOfferingSocket();
        using var timeout = new CancellationTokenSource(TestClient.DefaultTimeout);
        await socket.ConnectAsync(Host.WebSocketUri("chat"), timeout.Token);

        Assert.DoesNotContain("permessage-deflate", Extensions(socket));
        socket.Abort();
    }

    private static ClientWebSocket NewDeflateOfferingSocket()
    {
        var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        socket.Options.DangerousDeflateOptions = new WebSocketDeflateOptions();
        return socket;
    }

    private static string Extensions(ClientWebSocket socket) =>
        socket.HttpResponseHeaders is { } headers && headers.TryGetValue("Sec-WebSocket-Extensions", out var values)
            ? string.Join(",", values)
            : "";
}
