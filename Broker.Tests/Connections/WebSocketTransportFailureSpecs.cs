using System.Net.WebSockets;
using Broker.Actors.Connections;
using Broker.Contracts.Protocol;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Broker.Tests.Connections;

/// <summary>
/// A <see cref="WebSocketTransport"/> over a socket that fails in ways the transport does not
/// expect (a bug, not a dropped peer): the failure is logged once as an error with the connection
/// id, and the connection still closes. Expected failures (a dropped peer) stay quiet.
/// </summary>
public sealed class WebSocketTransportFailureSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(output: output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);
    private static readonly TransportLimits Limits = new(64 * 1024, 1000, 1000, 16, TimeSpan.FromMilliseconds(300));

    [Fact]
    public async Task An_unexpected_receive_failure_is_logged_with_the_connection_id_and_the_actor_hears_the_end()
    {
        var socket = new FailingSocket { ReceiveFailure = new InvalidOperationException("receive exploded") };
        var (transport, logs, actor) = Start(socket, "conn-r1");

        actor.ExpectMsg<InboundStream.Started>(Timeout);
        actor.Reply(InboundStream.Ack.Instance);
        actor.ExpectMsg<InboundStream.Completed>(Timeout); // a dead peer never stays a member
        transport.Close(Close.Normal);
        await transport.Completion.WaitAsync(Timeout);

        var error = Assert.Single(logs.Lines, l => l.Contains("[Error]"));
        Assert.Contains("conn-r1", error);
        Assert.Contains("receive exploded", error);
        Assert.Contains(WebSocketTransport.LogCategory, error);
    }

    [Fact]
    public async Task An_unexpected_send_failure_is_logged_once_and_the_socket_is_still_closed()
    {
        var socket = new FailingSocket { SendFailure = new InvalidOperationException("send exploded") };
        var (transport, logs, actor) = Start(socket, "conn-s1");
        actor.ExpectMsg<InboundStream.Started>(Timeout);

        Assert.True(transport.TrySend("""{"type":"pong"}"""u8.ToArray()));
        Assert.True(transport.TrySend("""{"type":"pong"}"""u8.ToArray()));
        await AwaitConditionAsync(() => Task.FromResult(logs.Lines.Any(l => l.Contains("[Error]"))), Timeout);
        transport.Close(Close.Normal);
        await transport.Completion.WaitAsync(Timeout);

        var error = Assert.Single(logs.Lines, l => l.Contains("[Error]"));
        Assert.Contains("conn-s1", error);
        Assert.Contains("send exploded", error);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, socket.ClosedWith); // the close frame still went out
    }

    [Fact]
    public async Task A_peer_that_drops_is_not_an_error()
    {
        var socket = new FailingSocket { ReceiveFailure = new WebSocketException(WebSocketError.ConnectionClosedPrematurely) };
        var (transport, logs, actor) = Start(socket, "conn-q1");

        actor.ExpectMsg<InboundStream.Started>(Timeout);
        actor.Reply(InboundStream.Ack.Instance);
        actor.ExpectMsg<InboundStream.Completed>(Timeout);
        transport.Close(Close.Normal);
        await transport.Completion.WaitAsync(Timeout);

        Assert.DoesNotContain(logs.Lines, l => l.Contains("[Error]"));
    }

    private (WebSocketTransport Transport, LogCapture Logs, Akka.TestKit.TestProbe Actor) Start(WebSocket socket, string connectionId)
    {
        var logs = new LogCapture();
        var logger = logs.CreateLogger(WebSocketTransport.LogCategory);
        var transport = new WebSocketTransport(socket, Limits, TimeProvider.System,
            new TransportContext(connectionId, "test", Cork: null, Log: logger));
        var actor = CreateTestProbe();
        transport.Start(actor.Ref);
        return (transport, logs, actor);
    }

    /// <summary>A socket whose receive or send throws what it is given; receives otherwise wait for the close.</summary>
    private sealed class FailingSocket : WebSocket
    {
        private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private WebSocketState _state = WebSocketState.Open;
        public Exception? ReceiveFailure { get; init; }
        public Exception? SendFailure { get; init; }
        public WebSocketCloseStatus? ClosedWith { get; private set; }

        public override WebSocketCloseStatus? CloseStatus => ClosedWith;
        public override string? CloseStatusDescription => null;
        public override WebSocketState State => _state;
        public override string? SubProtocol => null;

        public override async Task<WebSocketReceiveResult> ReceiveAsync(ArraySegment<byte> buffer, CancellationToken cancellationToken)
        {
            if (ReceiveFailure is not null) throw ReceiveFailure;
            await _closed.Task.WaitAsync(cancellationToken);
            return new WebSocketReceiveResult(0, WebSocketMessageType.Close, true, WebSocketCloseStatus.NormalClosure, "");
        }

        public override async ValueTask<ValueWebSocketReceiveResult> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
        {
            if (ReceiveFailure is not null) throw ReceiveFailure;
            await _closed.Task.WaitAsync(cancellationToken);
            return new ValueWebSocketReceiveResult(0, WebSocketMessageType.Close, true);
        }

        public override Task SendAsync(ArraySegment<byte> buffer, WebSocketMessageType messageType, bool endOfMessage, CancellationToken cancellationToken) =>
            SendFailure is null ? Task.CompletedTask : Task.FromException(SendFailure);

        public override Task CloseOutputAsync(WebSocketCloseStatus closeStatus, string? statusDescription, CancellationToken cancellationToken)
        {
            ClosedWith = closeStatus;
            _state = WebSocketState.CloseSent;
            _closed.TrySetResult();
            return Task.CompletedTask;
        }

        public override Task CloseAsync(WebSocketCloseStatus closeStatus, string? statusDescription, CancellationToken cancellationToken) =>
            CloseOutputAsync(closeStatus, statusDescription, cancellationToken);

        public override void Abort()
        {
            _state = WebSocketState.Aborted;
            _closed.TrySetResult();
        }

        public override void Dispose() => Abort();
    }
}
