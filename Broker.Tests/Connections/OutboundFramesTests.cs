using Broker.Actors.Connections;
using static Broker.Actors.Connections.OutboundFrames;

namespace Broker.Tests.Connections;

/// <summary>The socket's outbound queue: its bounds, one drain at a time, and many concurrent writers.</summary>
public sealed class OutboundFramesTests
{
    private static byte[] Frame(int length = 10) => new byte[length];

    private static List<byte[]> TakeAll(OutboundFrames queue)
    {
        var taken = new List<byte[]>();
        while (queue.TryTake(out var frame)) taken.Add(frame);
        return taken;
    }

    [Fact]
    public void The_first_frame_on_an_idle_queue_starts_a_drain_and_the_others_join_it()
    {
        var queue = new OutboundFrames(100);

        Assert.Equal(Enqueued.StartDrain, queue.TryEnqueue(Frame()));
        Assert.Equal(Enqueued.Queued, queue.TryEnqueue(Frame()));
        Assert.Equal(2, TakeAll(queue).Count);
        Assert.True(queue.TryEndDrain(out var completed));
        Assert.False(completed);

        Assert.Equal(Enqueued.StartDrain, queue.TryEnqueue(Frame())); // the drain ended: the next frame starts another
    }

    [Fact]
    public void A_drain_cannot_end_while_a_frame_is_queued()
    {
        var queue = new OutboundFrames(100);
        queue.TryEnqueue(Frame());
        TakeAll(queue);

        Assert.Equal(Enqueued.Queued, queue.TryEnqueue(Frame())); // came in after the last take
        Assert.False(queue.TryEndDrain(out _));
        Assert.Single(TakeAll(queue));
        Assert.True(queue.TryEndDrain(out _));
    }

    [Fact]
    public void A_full_queue_refuses_the_next_frame_and_takes_frames_again_once_drained()
    {
        var queue = new OutboundFrames(1000);
        for (var i = 0; i < 1000; i++) Assert.NotEqual(Enqueued.Refused, queue.TryEnqueue(Frame()));

        Assert.Equal(Enqueued.Refused, queue.TryEnqueue(Frame()));
        Assert.Equal(1000, TakeAll(queue).Count);
        Assert.Equal(Enqueued.Queued, queue.TryEnqueue(Frame())); // the drain has not ended yet
    }

    [Fact]
    public void The_byte_bound_refuses_a_frame_past_it_but_never_the_first_one()
    {
        var queue = new OutboundFrames(1000, maxBytes: 100);

        Assert.Equal(Enqueued.StartDrain, queue.TryEnqueue(Frame(500))); // bigger than the bound, but the queue is empty
        Assert.Equal(Enqueued.Refused, queue.TryEnqueue(Frame(1)));
        TakeAll(queue);
        Assert.Equal(Enqueued.Queued, queue.TryEnqueue(Frame(60)));
        Assert.Equal(Enqueued.Queued, queue.TryEnqueue(Frame(40)));
        Assert.Equal(Enqueued.Refused, queue.TryEnqueue(Frame(1)));
    }

    [Fact]
    public void Frames_come_out_in_the_order_they_went_in_across_many_ring_growths_and_drops()
    {
        var queue = new OutboundFrames(1000);
        var next = 0;
        var expected = 0;
        for (var round = 0; round < 50; round++)
        {
            var burst = round % 7 * 40 + 1; // small and large backlogs: the ring grows, is dropped, is made again
            for (var i = 0; i < burst; i++) queue.TryEnqueue(BitConverter.GetBytes(next++));
            foreach (var frame in TakeAll(queue)) Assert.Equal(expected++, BitConverter.ToInt32(frame));
            Assert.True(queue.TryEndDrain(out _));
        }
        Assert.Equal(next, expected);
    }

    [Fact]
    public void Completing_an_idle_queue_asks_for_a_drain_refuses_frames_and_ends_the_drain_completed()
    {
        var queue = new OutboundFrames(10);

        Assert.True(queue.Complete());
        Assert.False(queue.Complete()); // only the first completion counts
        Assert.Equal(Enqueued.Refused, queue.TryEnqueue(Frame()));
        Assert.True(queue.TryEndDrain(out var completed));
        Assert.True(completed);
    }

    [Fact]
    public void Completing_while_a_drain_runs_leaves_the_queued_frames_to_it()
    {
        var queue = new OutboundFrames(10);
        queue.TryEnqueue(Frame());
        queue.TryEnqueue(Frame());

        Assert.False(queue.Complete()); // the running drain will see it

        Assert.False(queue.TryEndDrain(out _));
        Assert.Equal(2, TakeAll(queue).Count);
        Assert.True(queue.TryEndDrain(out var completed));
        Assert.True(completed);
    }

    [Fact]
    public void Concurrent_writers_and_one_drain_at_a_time_lose_nothing_reorder_nothing_and_respect_the_bound()
    {
        // Four writers (the room hub's workers, the actor, the heartbeat) against a drain that
        // starts and ends as the writers tell it, never two at once.
        const int writers = 4, perWriter = 50_000, bound = 64;
        var queue = new OutboundFrames(bound);
        var received = new int[writers];
        var accepted = new int[writers];
        var drains = 0;
        var active = 0;
        var delivered = 0;
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();

        void Drain()
        {
            if (Interlocked.Increment(ref active) != 1) failures.Enqueue("two drains at once");
            Interlocked.Increment(ref drains);
            do
            {
                while (queue.TryTake(out var frame))
                {
                    var writer = frame[0];
                    var sequence = BitConverter.ToInt32(frame, 1);
                    if (sequence < received[writer]) failures.Enqueue($"writer {writer}: {sequence} after {received[writer]}");
                    received[writer] = sequence + 1;
                    Interlocked.Increment(ref delivered);
                }
            }
            while (!queue.TryEndDrain(out _));
            Interlocked.Decrement(ref active);
        }

        Parallel.For(0, writers, new ParallelOptions { MaxDegreeOfParallelism = writers }, writer =>
        {
            for (var i = 0; i < perWriter; i++)
            {
                var frame = new byte[5];
                frame[0] = (byte)writer;
                BitConverter.TryWriteBytes(frame.AsSpan(1), i);
                switch (queue.TryEnqueue(frame))
                {
                    case Enqueued.Refused:
                        Assert.True(queue.Count <= bound);
                        break;
                    case Enqueued.StartDrain:
                        accepted[writer]++;
                        ThreadPool.UnsafeQueueUserWorkItem(_ => Drain(), null);
                        break;
                    default:
                        accepted[writer]++;
                        break;
                }
            }
        });
        SpinWait.SpinUntil(() => Volatile.Read(ref active) == 0 && queue.Count == 0, TimeSpan.FromSeconds(10));

        Assert.Empty(failures);
        Assert.Equal(0, queue.Count);
        Assert.True(drains >= 1); // one drain may keep up with every writer for the whole run; each start/end is checked above
        // Frames refused were never queued; every one accepted came out, once (sequences skip refused ones).
        Assert.True(accepted.Sum() > 0);
        Assert.Equal(accepted.Sum(), Volatile.Read(ref delivered));
        Assert.True(queue.TryEndDrain(out _));
    }
}
