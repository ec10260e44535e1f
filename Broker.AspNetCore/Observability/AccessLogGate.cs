using Akka.Actor;
using Broker.Actors.Observability;

namespace Broker.AspNetCore.Observability;

/// <summary>
/// How many access events wait for the <see cref="AccessLogActor"/>, shared by the gate that lets
/// them in and the actor that writes them.
/// </summary>
public sealed class AccessLogBacklog(int capacity)
{
    private int _waiting;

    /// <summary>Events the gate lets wait at most (close events aside).</summary>
    public int Capacity { get; } = capacity;

    /// <summary>Events let in and not written yet.</summary>
    public int Waiting => Volatile.Read(ref _waiting);

    /// <summary>Takes a place; false when all are taken (unless <paramref name="always"/>).</summary>
    public bool TryEnter(bool always)
    {
        if (Interlocked.Increment(ref _waiting) <= Capacity || always) return true;
        Interlocked.Decrement(ref _waiting);
        return false;
    }

    /// <summary>An event was written: its place is free.</summary>
    public void Written() => Interlocked.Decrement(ref _waiting);
}

/// <summary>
/// What the event stream delivers access events to, in front of the <see cref="AccessLogActor"/>
/// (issue #15): every join and leave is an event, so a slow log sink let the actor's mailbox grow
/// without bound. Past <see cref="AccessLogBacklog.Capacity"/> waiting events, new ones are
/// dropped and counted (<c>broker_access_log_dropped_total</c>), except a connection's close:
/// it carries the connection's totals and frees the writer's memory of the connection, and there
/// is at most one per socket, so it always gets in. A bare ref rather than an actor: the check
/// runs on the publisher's thread and costs one interlocked add.
/// </summary>
public sealed class AccessLogGate : MinimalActorRef
{
    private readonly IActorRef _writer;
    private readonly AccessLogBacklog _backlog;

    public AccessLogGate(IActorRef writer, AccessLogBacklog backlog)
    {
        _writer = writer;
        _backlog = backlog;
        Provider = ((IInternalActorRef)writer).Provider;
        Path = writer.Path / "gate";
    }

    /// <summary>
    /// The access logger of <paramref name="system"/>: the writer, and the gate the event stream
    /// delivers to (unsubscribe it to stop).
    /// </summary>
    public static AccessLogGate Start(ActorSystem system, ILogger logger, int capacity)
    {
        var backlog = new AccessLogBacklog(capacity);
        var writer = system.ActorOf(AccessLogActor.Props(logger, backlog), "access-log");
        var gate = new AccessLogGate(writer, backlog);
        system.EventStream.Subscribe(gate, typeof(AccessEvents.IAccessEvent));
        return gate;
    }

    /// <summary>The events waiting for the writer.</summary>
    public AccessLogBacklog Backlog => _backlog;

    public override ActorPath Path { get; }
    public override IActorRefProvider Provider { get; }

    protected override void TellInternal(object message, IActorRef sender)
    {
        if (message is not AccessEvents.IAccessEvent) return;
        if (_backlog.TryEnter(always: message is AccessEvents.Closed)) _writer.Tell(message, sender);
        else BrokerMetrics.AccessLogDropped.Add(1);
    }
}
