using System.Runtime.CompilerServices;
using Akka.Dispatch.MessageQueues;
using Broker.Actors.Dispatch;

namespace Broker.Tests.Dispatch;

/// <summary>
/// The <see cref="SingleConsumerMessageQueue"/> on its own, without an ActorSystem: order,
/// concurrent producers against one consumer, what Akka reads from it (Count, HasMessages) and
/// what it hands to dead letters.
/// </summary>
public sealed class SingleConsumerMessageQueueSpecs
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly SingleConsumerMessageQueue _queue = new();

    [Fact]
    public void An_empty_queue_has_no_messages_and_dequeues_nothing()
    {
        Assert.False(_queue.HasMessages);
        Assert.Equal(0, _queue.Count);
        Assert.False(_queue.TryDequeue(out _));
    }

    [Fact]
    public void Messages_come_out_in_the_order_they_went_in()
    {
        for (var i = 0; i < 100; i++) _queue.Enqueue(ActorRefs.Nobody, new Envelope(i, ActorRefs.NoSender));

        for (var i = 0; i < 100; i++)
        {
            Assert.True(_queue.TryDequeue(out var envelope));
            Assert.Equal(i, envelope.Message);
        }
        Assert.False(_queue.TryDequeue(out _));
    }

    [Fact]
    public void Sender_travels_with_its_message()
    {
        var sender = new FakeActorRef("sender");
        _queue.Enqueue(ActorRefs.Nobody, new Envelope("hello", sender));

        Assert.True(_queue.TryDequeue(out var envelope));
        Assert.Equal("hello", envelope.Message);
        Assert.Same(sender, envelope.Sender);
    }

    [Fact]
    public void Count_and_HasMessages_follow_enqueues_and_dequeues()
    {
        _queue.Enqueue(ActorRefs.Nobody, new Envelope("a", ActorRefs.NoSender));
        _queue.Enqueue(ActorRefs.Nobody, new Envelope("b", ActorRefs.NoSender));
        _queue.Enqueue(ActorRefs.Nobody, new Envelope("c", ActorRefs.NoSender));
        Assert.True(_queue.HasMessages);
        Assert.Equal(3, _queue.Count);

        Assert.True(_queue.TryDequeue(out _));
        Assert.True(_queue.HasMessages);
        Assert.Equal(2, _queue.Count);

        Assert.True(_queue.TryDequeue(out _));
        Assert.True(_queue.TryDequeue(out _));
        Assert.False(_queue.HasMessages);
        Assert.Equal(0, _queue.Count);

        // Drained and filled again: the stub it now starts from is the last dequeued node.
        _queue.Enqueue(ActorRefs.Nobody, new Envelope("d", ActorRefs.NoSender));
        Assert.True(_queue.HasMessages);
        Assert.Equal(1, _queue.Count);
        Assert.True(_queue.TryDequeue(out var envelope));
        Assert.Equal("d", envelope.Message);
    }

    [Fact]
    public void Clean_up_hands_every_leftover_message_to_dead_letters_in_order_as_the_owners()
    {
        var owner = new FakeActorRef("owner");
        var deadLetters = new RecordingMessageQueue();
        _queue.Enqueue(owner, new Envelope("one", ActorRefs.NoSender));
        _queue.Enqueue(owner, new Envelope("two", ActorRefs.NoSender));
        _queue.Enqueue(owner, new Envelope("three", ActorRefs.NoSender));
        Assert.True(_queue.TryDequeue(out _)); // "one" was processed before the actor stopped

        _queue.CleanUp(owner, deadLetters);

        Assert.Equal(["two", "three"], deadLetters.Received.Select(r => r.Envelope.Message));
        Assert.All(deadLetters.Received, r => Assert.Same(owner, r.Receiver));
        Assert.False(_queue.HasMessages);
        Assert.Equal(0, _queue.Count);
    }

    [Fact]
    public void A_dequeued_message_is_not_kept_alive_by_the_queue()
    {
        // The node of the last dequeued message stays as the queue's stub; it must drop the message.
        var message = EnqueueAndDequeueAnObject(_queue);

        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();

        Assert.False(message.TryGetTarget(out _));
        GC.KeepAlive(_queue);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference<object> EnqueueAndDequeueAnObject(SingleConsumerMessageQueue queue)
    {
        var message = new object();
        queue.Enqueue(ActorRefs.Nobody, new Envelope(message, ActorRefs.NoSender));
        Assert.True(queue.TryDequeue(out _));
        return new WeakReference<object>(message);
    }

    [Fact]
    public async Task Many_producers_and_one_consumer_lose_duplicate_and_reorder_nothing()
    {
        const int producers = 4;
        const int perProducer = 50_000;
        using var start = new ManualResetEventSlim();

        // One consumer, as Akka guarantees for a mailbox; it runs while the producers are still going.
        var consumer = Task.Factory.StartNew(() =>
        {
            var next = new int[producers];
            var received = 0;
            var deadline = DateTime.UtcNow + Timeout;
            var spin = new SpinWait();
            start.Wait();
            while (received < producers * perProducer)
            {
                if (!_queue.TryDequeue(out var envelope))
                {
                    if (DateTime.UtcNow > deadline) throw new TimeoutException($"only {received} messages arrived");
                    spin.SpinOnce();
                    continue;
                }
                var (producer, sequence) = ((int, int))envelope.Message;
                // Per producer, each number exactly once and in order: catches loss, duplicates and reordering.
                if (sequence != next[producer])
                    throw new InvalidOperationException($"producer {producer}: expected {next[producer]}, got {sequence}");
                next[producer]++;
                received++;
            }
            return received;
        }, TaskCreationOptions.LongRunning);

        var producing = Enumerable.Range(0, producers).Select(producer => Task.Factory.StartNew(() =>
        {
            start.Wait();
            for (var i = 0; i < perProducer; i++)
                _queue.Enqueue(ActorRefs.Nobody, new Envelope((producer, i), ActorRefs.NoSender));
        }, TaskCreationOptions.LongRunning)).ToArray();

        start.Set();
        await Task.WhenAll(producing).WaitAsync(Timeout);
        Assert.Equal(producers * perProducer, await consumer.WaitAsync(Timeout));
        Assert.False(_queue.HasMessages);
        Assert.Equal(0, _queue.Count);
        Assert.False(_queue.TryDequeue(out _));
    }

    [Fact]
    public async Task Count_read_from_another_thread_stays_within_what_was_ever_queued()
    {
        const int messages = 20_000;
        using var done = new CancellationTokenSource();
        var producer = Task.Factory.StartNew(() =>
        {
            for (var i = 0; i < messages; i++) _queue.Enqueue(ActorRefs.Nobody, new Envelope(i, ActorRefs.NoSender));
        }, TaskCreationOptions.LongRunning);
        var counts = Task.Factory.StartNew(() =>
        {
            // Count may be read by any thread (diagnostics, resizers) while the consumer moves on.
            var largest = 0;
            while (!done.IsCancellationRequested)
            {
                var count = _queue.Count;
                if (count < 0 || count > messages) throw new InvalidOperationException($"Count was {count}");
                largest = Math.Max(largest, count);
            }
            return largest;
        }, TaskCreationOptions.LongRunning);

        var dequeued = 0;
        var deadline = DateTime.UtcNow + Timeout;
        while (dequeued < messages && DateTime.UtcNow < deadline)
            if (_queue.TryDequeue(out _)) dequeued++;
        done.Cancel();
        await producer.WaitAsync(Timeout);
        await counts.WaitAsync(Timeout);

        Assert.Equal(messages, dequeued);
        Assert.Equal(0, _queue.Count);
    }

    private sealed class RecordingMessageQueue : IMessageQueue
    {
        public List<(IActorRef Receiver, Envelope Envelope)> Received { get; } = new();
        public bool HasMessages => Received.Count > 0;
        public int Count => Received.Count;
        public void Enqueue(IActorRef receiver, Envelope envelope) => Received.Add((receiver, envelope));
        public bool TryDequeue(out Envelope envelope) => throw new NotSupportedException();
        public void CleanUp(IActorRef owner, IMessageQueue deadletters) => throw new NotSupportedException();
    }

    private sealed class FakeActorRef(string name) : MinimalActorRef
    {
        public override ActorPath Path { get; } = new RootActorPath(new Address("akka", "specs")) / name;
        public override IActorRefProvider Provider => throw new NotSupportedException();
    }
}
