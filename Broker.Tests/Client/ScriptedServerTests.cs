using System.Text;
using Broker.Client;
using Broker.Client.Protocol;

namespace Broker.Tests.Client;

/// <summary>
/// The client's side of §5 and §6 against a <see cref="ScriptedServer"/>: which close codes end it,
/// which reconnect, the one retry after 4401, replay with duplicates, epoch changes, the frame size
/// guard, heartbeat answers, timeouts.
/// </summary>
public sealed partial class ScriptedServerTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = ClientEvents.Timeout;

    private ScriptedServer _server = null!;
    private int _tokens;

    public async Task InitializeAsync() => _server = await ScriptedServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private BrokerClient NewClient(TimeSpan? requestTimeout = null, int maxFrameBytes = 1024 * 1024) => new(new BrokerClientOptions
    {
        Url = _server.Url,
        TokenProvider = _ => ValueTask.FromResult("token-" + Interlocked.Increment(ref _tokens)),
        RequestTimeout = requestTimeout ?? Timeout,
        MaxFrameBytes = maxFrameBytes,
        Reconnect = new ReconnectOptions { InitialDelay = TimeSpan.FromMilliseconds(20), MaxDelay = TimeSpan.FromMilliseconds(100) },
    });

    [Fact]
    public async Task An_oversized_frame_drops_the_connection_with_1009_and_reconnects()
    {
        await using var client = NewClient(maxFrameBytes: 4096);
        var events = new ClientEvents(client);
        var first = await _server.ConnectAsync(client);

        await first.SendAsync($$$"""{"type":"direct","data":{"from":"x","payload":"{{{new string('x', 5000)}}}"}}""");

        var closed = await events.ClosedAsync();
        Assert.Equal(CloseCodes.TooBig, closed.Code);
        Assert.True(closed.WillReconnect);
        await _server.AcceptAuthenticatedAsync();
        await events.ReconnectedAsync();
    }

    [Fact]
    public async Task Server_pings_are_answered_with_pong_and_unknown_frames_are_ignored()
    {
        await using var client = NewClient();
        var events = new ClientEvents(client);
        var side = await _server.ConnectAsync(client);

        await side.SendAsync("""{"type":"something-new","data":{}}""");
        await side.SendAsync("not json at all");
        await side.SendAsync("""{"type":"ping"}""");

        Assert.Equal("pong", (await side.ReceiveAsync()).GetProperty("type").GetString());
        await side.SendAsync("""{"type":"direct","data":{"from":"x","payload":[1,2]}}""");
        Assert.Equal("[1,2]", Encoding.UTF8.GetString((await events.DirectAsync()).Payload.Span));
    }
}
