using Akka.Actor;
using Akka.Cluster;

namespace Broker.AspNetCore.Hosting;

/// <summary>
/// The running node as the HTTP side sees it: the connection supervisor, the shard regions, and
/// the node's name. Filled in when the actor system has started.
/// </summary>
public sealed class BrokerNode
{
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ActorSystem System { get; private set; } = null!;
    public IActorRef Connections { get; private set; } = ActorRefs.Nobody;
    /// <summary>The room shard region.</summary>
    public IActorRef Rooms { get; private set; } = ActorRefs.Nobody;
    /// <summary>The user directory shard region.</summary>
    public IActorRef Users { get; private set; } = ActorRefs.Nobody;
    /// <summary>The handshake ticket ledger shard region.</summary>
    public IActorRef Tickets { get; private set; } = ActorRefs.Nobody;
    public string NodeName { get; private set; } = "";

    /// <summary>Completes once the actors are up.</summary>
    public Task Started => _started.Task;

    /// <summary>True while this node is an Up member of the cluster and not shutting down.</summary>
    public bool IsReady =>
        _started.Task.IsCompletedSuccessfully
        && !System.WhenTerminated.IsCompleted
        && Cluster.Get(System).SelfMember.Status == MemberStatus.Up
        && !ShuttingDown;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Broker.Actors.Connections.WebSocketTransport> _openSockets = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Broker.AspNetCore.Sse.SseTransport> _openStreams = new();

    /// <summary>
    /// Tracks a socket until it is fully closed, so shutdown can wait for close handshakes. The
    /// caller awaits the socket's completion anyway and calls <see cref="Untrack"/> then (no
    /// continuation is kept per socket).
    /// </summary>
    internal void Track(string connectionId, Broker.Actors.Connections.WebSocketTransport transport) =>
        _openSockets[connectionId] = transport;

    /// <summary>Tracks an SSE stream as a socket: shutdown waits for its final <c>close</c> event too.</summary>
    internal void Track(string connectionId, Broker.AspNetCore.Sse.SseTransport transport) =>
        _openStreams[connectionId] = transport;

    /// <summary>Sockets (and SSE streams) this node tracks until their close is done: what shutdown waits for.</summary>
    public int OpenSockets => _openSockets.Count + _openStreams.Count;

    /// <summary>The socket or stream is fully closed.</summary>
    internal void Untrack(string connectionId)
    {
        _openSockets.TryRemove(connectionId, out _);
        _openStreams.TryRemove(connectionId, out _);
    }

    /// <summary>Completes when every socket open now has finished its close handshake (or been aborted), and every stream has ended.</summary>
    internal Task AllSocketsClosed() =>
        Task.WhenAll(_openSockets.Values.Select(t => t.Completion).Concat(_openStreams.Values.Select(t => t.Completion)));

    /// <summary>
    /// Graceful shutdown of the sockets: readiness drops, every connection is closed with 1001 so
    /// clients reconnect elsewhere, and this completes when the close handshakes are done (each
    /// bounded by the transport's grace period) or <paramref name="timeout"/> passes. Idempotent.
    /// </summary>
    public async Task CloseAllSocketsAsync(TimeSpan timeout)
    {
        ShuttingDown = true;
        if (!_started.Task.IsCompletedSuccessfully || System.WhenTerminated.IsCompleted) return;
        try
        {
            var closing = Connections.Ask<Broker.Actors.Connections.ConnectionMessages.AllClosed>(
                new Broker.Actors.Connections.ConnectionMessages.CloseAll(Broker.Contracts.Protocol.Close.ShuttingDown),
                timeout);
            // The actors are gone once they asked for the close; the close frames are on the wire
            // only when each socket's handshake has finished.
            await Task.WhenAll(closing, AllSocketsClosed()).WaitAsync(timeout);
        }
        catch (Exception e) when (e is TimeoutException or AskTimeoutException or TaskCanceledException)
        {
            // Whatever is still open is aborted when the server stops.
        }
    }

    /// <summary>Set when graceful shutdown begins, so readiness drops before sockets close.</summary>
    /// <remarks>Written by the shutdown path, read by request and health-check threads: volatile, so a reader sees it at once.</remarks>
    public bool ShuttingDown { get => _shuttingDown; set => _shuttingDown = value; }

    private volatile bool _shuttingDown;

    internal void Start(ActorSystem system, IActorRef connections, IActorRef rooms, IActorRef users, IActorRef tickets, string nodeName)
    {
        Tickets = tickets;
        System = system;
        Connections = connections;
        Rooms = rooms;
        Users = users;
        NodeName = nodeName;
        // Without actors no socket is served: if the system goes away (downed, crashed), drop them.
        system.WhenTerminated.ContinueWith(_ =>
        {
            foreach (var transport in _openSockets.Values) transport.Abort();
            foreach (var stream in _openStreams.Values) stream.Abort();
        }, TaskScheduler.Default);
        _started.TrySetResult();
    }
}
