using Akka.Actor;
using Akka.Dispatch;
using Akka.Dispatch.MessageQueues;

namespace Broker.Actors.Dispatch;

/// <summary>
/// An unbounded message queue for one actor that costs two small objects when empty: a lock-free
/// linked queue with many producers and one consumer (Dmitry Vyukov's non-intrusive MPSC queue, as
/// in Akka JVM's <c>AbstractNodeQueue</c>). Akka's default queue, a <c>ConcurrentQueue</c>, allocates
/// a 32-slot segment (~1.26 KB) up front, which thousands of mostly idle actors pay for nothing.
/// </summary>
/// <remarks>
/// Only one thread may dequeue at a time. Akka guarantees that for an actor's own mailbox (the
/// mailbox runs on one thread at a time); that is why the queue does not claim
/// <see cref="IMultipleConsumerSemantics"/>, so it must never be shared by several actors.
/// </remarks>
public sealed class SingleConsumerMessageQueue : IMessageQueue, IUnboundedMessageQueueSemantics
{
    // Producers append after _tail; the consumer reads after _head. _head is always a node whose
    // envelope has been taken (the stub), so the queue is empty when both point at the same node.
    private Node _tail;
    private Node _head;

    public SingleConsumerMessageQueue()
    {
        _head = _tail = new Node(default);
    }

    /// <summary>
    /// True once an enqueue has started, even if its node is not linked yet. When a mailbox run ends,
    /// Akka asks this to decide whether to run again; a producer that found the mailbox running left
    /// its message to that check. The producer's tail swap is an interlocked full fence, so it is
    /// visible by then; its link is a release write that may not be, and checking the link alone
    /// could leave the message unprocessed until the next one arrives.
    /// </summary>
    public bool HasMessages => Volatile.Read(ref _tail) != Volatile.Read(ref _head);

    /// <summary>
    /// The number of linked messages between the consumer and the tail as it was when counting
    /// started: an upper bound at that moment, lower if the consumer takes messages meanwhile or a
    /// producer has not linked yet (the contract of Akka JVM's node queue). It walks the list, so it
    /// is O(n); Akka only reads it for diagnostics and resizers, and a counter would cost two more
    /// interlocked operations per message.
    /// </summary>
    public int Count
    {
        get
        {
            // Head first: the tail read after it is never behind it, so the walk ends at that tail.
            var head = Volatile.Read(ref _head);
            var tail = Volatile.Read(ref _tail);
            var count = 0;
            for (var node = Volatile.Read(ref head.Next); node is not null; node = Volatile.Read(ref node.Next))
            {
                count++;
                if (node == tail) break; // producers keep appending; stop where the tail was
            }
            return count;
        }
    }

    public void Enqueue(IActorRef receiver, Envelope envelope)
    {
        var node = new Node(envelope);
        // The exchange orders producers and publishes "not empty" (see HasMessages); the link
        // makes the node reachable to the consumer. Between the two, the consumer waits in TryDequeue.
        var previous = Interlocked.Exchange(ref _tail, node);
        Volatile.Write(ref previous.Next, node);
    }

    public bool TryDequeue(out Envelope envelope)
    {
        var head = _head;
        var next = Volatile.Read(ref head.Next);
        if (next is null)
        {
            if (Volatile.Read(ref _tail) == head)
            {
                envelope = default;
                return false;
            }
            // A producer has swapped the tail but not linked its node yet. HasMessages already said
            // "not empty", so returning false here would make the dispatcher run this mailbox again
            // and again; wait for the link instead (a few instructions, unless the producer was
            // preempted, in which case SpinWait yields the core to it).
            var spin = new SpinWait();
            while ((next = Volatile.Read(ref head.Next)) is null) spin.SpinOnce();
        }

        envelope = next.Envelope;
        next.Envelope = default; // next becomes the stub; it must not keep the message alive
        Volatile.Write(ref _head, next);
        // The old stub is garbage, but if it was promoted to an older generation its link would
        // keep every newer node alive until a full collection.
        head.Next = null;
        return true;
    }

    /// <summary>Moves what is left to dead letters when the actor stops, as Akka's own queues do.</summary>
    public void CleanUp(IActorRef owner, IMessageQueue deadletters)
    {
        while (TryDequeue(out var envelope))
            deadletters.Enqueue(owner, envelope);
    }

    private sealed class Node(Envelope envelope)
    {
        public Envelope Envelope = envelope;
        public Node? Next;
    }
}
