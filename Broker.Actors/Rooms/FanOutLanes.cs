using System.Collections.Concurrent;
using Broker.Actors.Connections;

namespace Broker.Actors.Rooms;

/// <summary>
/// The threads a <see cref="RoomHub"/> hands the socket writes of a large broadcast to, so that one
/// broadcast to a 10k-member room is written by every core instead of the hub's one thread
/// (docs/benchmarks.md, "The bottleneck now"). Each connection belongs to one lane for its whole
/// life (<see cref="LaneOf"/>), and each lane runs its jobs in the order the hub posted them, so
/// every frame the hub sends a member reaches its socket in the hub's order, however the room's
/// member arrays are rebuilt between broadcasts. Dedicated threads, not the thread pool: the pool's
/// queue holds a write-loop continuation per socket per broadcast, and a lane waiting behind 10k of
/// them would make every broadcast as slow as its slowest lane.
/// </summary>
internal sealed class FanOutLanes : IDisposable
{
    private readonly Lane[] _lanes;
    private int _queued; // jobs posted and not yet run, on every lane

    public FanOutLanes(int count)
    {
        _lanes = new Lane[Math.Max(1, count)];
        for (var i = 0; i < _lanes.Length; i++) _lanes[i] = new Lane(this, i);
    }

    /// <summary>One lane per core: the broadcast's writes are CPU work (channel writes, wake-ups), nothing blocks.</summary>
    public static int DefaultCount => Environment.ProcessorCount;

    public int Count => _lanes.Length;

    /// <summary>The lane that writes every frame of <paramref name="connectionId"/>, in every room.</summary>
    public int LaneOf(string connectionId) =>
        (int)((uint)StringComparer.Ordinal.GetHashCode(connectionId) % (uint)_lanes.Length);

    /// <summary>
    /// Whether some lane still has a job to run. While it does, the hub sends every frame through the
    /// lanes; once it reads false, every frame a lane was given is on its socket's queue already
    /// (the lane's decrement comes after its writes), so the hub's own writes come after them.
    /// </summary>
    public bool Busy => Volatile.Read(ref _queued) != 0;

    /// <summary>Queues <paramref name="job"/> behind everything queued on lane <paramref name="lane"/> before.</summary>
    public void Post(int lane, FanOutJob job)
    {
        Interlocked.Increment(ref _queued);
        _lanes[lane].Post(job);
    }

    /// <summary>Stops the threads once they have run what is queued.</summary>
    public void Dispose()
    {
        foreach (var lane in _lanes) lane.Complete();
    }

    /// <summary>One thread and its queue of jobs, run one at a time in the order they were posted.</summary>
    internal sealed class Lane
    {
        private readonly BlockingCollection<FanOutJob> _jobs = new(new ConcurrentQueue<FanOutJob>());

        /// <summary>
        /// Sockets that refused a frame on this lane. A socket is written by this lane only, so this
        /// lane alone decides, without a lock, that nothing more goes to it, even while the hub's
        /// member arrays still list it. Forgotten when its connection is gone (<see cref="FanOutJob.Forget"/>).
        /// </summary>
        private readonly HashSet<IConnectionTransport> _refused = new(ReferenceEqualityComparer.Instance);

        private readonly FanOutLanes _owner;

        public Lane(FanOutLanes owner, int index)
        {
            _owner = owner;
            var thread = new Thread(Run) { IsBackground = true, Name = $"broker-fanout-{index}" };
            thread.Start();
        }

        public void Post(FanOutJob job)
        {
            try { _jobs.Add(job); }
            catch (InvalidOperationException) { Interlocked.Decrement(ref _owner._queued); } // the hub stopped: its sockets are closing
        }

        public void Complete() => _jobs.CompleteAdding();

        private void Run()
        {
            foreach (var job in _jobs.GetConsumingEnumerable())
            {
                try { job.Run(this); }
                catch (Exception) { /* sends are guarded one by one (TrySend): nothing else in a job throws, and a lane must outlive a bug in one */ }
                finally { Interlocked.Decrement(ref _owner._queued); }
            }
        }

        /// <summary>
        /// Queues one frame on one socket of this lane. A refusal (a full queue, a closing socket, a
        /// transport that throws) is final for the socket; <c>Refused</c> is returned once, the first
        /// time, so that its actor is told once.
        /// </summary>
        public SendOutcome TrySend(IConnectionTransport socket, byte[] frame)
        {
            if (_refused.Count != 0 && _refused.Contains(socket)) return SendOutcome.RefusedBefore;
            bool sent;
            try { sent = socket.TrySend(frame); }
            catch (Exception) { sent = false; } // a broken transport is cut off like a full one, not the lane's end
            if (sent) return SendOutcome.Sent;
            _refused.Add(socket);
            return SendOutcome.Refused;
        }

        public void Forget(IConnectionTransport socket) => _refused.Remove(socket);
    }
}

/// <summary>What became of one frame on one socket of a lane.</summary>
internal enum SendOutcome
{
    Sent,
    /// <summary>Refused now: the member's actor must be told.</summary>
    Refused,
    /// <summary>Refused by an earlier frame: its actor was told then.</summary>
    RefusedBefore,
}
