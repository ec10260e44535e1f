using Akka.Actor;
using Akka.Cluster;
using Akka.Streams;

namespace Broker.Host.Hosting;

/// <summary>
/// The running node as the HTTP side sees it: the connection supervisor, the shared stream
/// materializer, and the node's name. Filled in when the actor system has started.
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
    public IMaterializer Materializer { get; private set; } = null!;
    public string NodeName { get; private set; } = "";

    /// <summary>Completes once the actors are up.</summary>
    public Task Started => _started.Task;

    /// <summary>True while this node is an Up member of the cluster and not shutting down.</summary>
    public bool IsReady =>
        _started.Task.IsCompletedSuccessfully
        && !System.WhenTerminated.IsCompleted
        && Cluster.Get(System).SelfMember.Status == MemberStatus.Up
        && !ShuttingDown;

    /// <summary>Set when graceful shutdown begins, so readiness drops before sockets close.</summary>
    public bool ShuttingDown { get; set; }

    internal void Start(ActorSystem system, IActorRef connections, IActorRef rooms, IActorRef users, IMaterializer materializer, string nodeName)
    {
        System = system;
        Connections = connections;
        Rooms = rooms;
        Users = users;
        Materializer = materializer;
        NodeName = nodeName;
        _started.TrySetResult();
    }
}
