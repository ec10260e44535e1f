using Akka.Actor;
using Broker.Actors.Connections;

namespace Broker.Actors.Rooms;

/// <summary>
/// Writes one large broadcast with every core (issue #18): the <see cref="RoomHub"/>'s own thread
/// writes the first slice of the room's members and one helper thread per other core writes each
/// other slice, and <see cref="Write"/> returns only when every slice is on its sockets' queues. The
/// hub therefore never has two broadcasts in flight, so every socket gets the hub's frames in the
/// hub's order with no bookkeeping across broadcasts, whatever happens to the room's member arrays
/// in between. (The first design let lanes run on behind the hub and counted their queued work to
/// decide when the hub could write itself; the 10k bench lost deliveries with it once, with a
/// lane's members stopped and nothing busy, and the cause was never found. Fork and join leaves
/// nothing to get wrong: a slow helper makes the hub wait, never reorders or drops.)
/// <para>
/// Dedicated threads, not the thread pool: the pool's queue holds a write-loop continuation per
/// socket per broadcast, and a slice queued behind 10k of them would make every broadcast wait for
/// the previous one's writes to finish. Only the hub's thread calls <see cref="Write"/>.
/// </para>
/// </summary>
internal sealed class ParallelFanOut : IDisposable
{
    private readonly Helper[] _helpers;
    private readonly ManualResetEventSlim _done = new(false);
    private int _pending; // helper slices of the current broadcast not yet written
    private int _helperDelivered;
    private int _helperRefused;

    /// <param name="threads">Threads a broadcast is written by, the hub's own included (at least 1).</param>
    public ParallelFanOut(int threads)
    {
        _helpers = new Helper[Math.Max(1, threads) - 1];
        for (var i = 0; i < _helpers.Length; i++) _helpers[i] = new Helper(this, i + 1);
    }

    /// <summary>One thread per core: a broadcast's writes are CPU work (queue writes, wake-ups), nothing blocks.</summary>
    public static int DefaultThreads => Environment.ProcessorCount;

    /// <summary>How many slices a room's members are split into: one per thread.</summary>
    public int Slices => _helpers.Length + 1;

    /// <summary>The slice a connection's socket is in, in every room (so one thread keeps touching the same sockets).</summary>
    public int SliceOf(string connectionId) =>
        (int)((uint)StringComparer.Ordinal.GetHashCode(connectionId) % (uint)Slices);

    /// <summary>
    /// Queues <paramref name="frame"/> on every socket of <paramref name="slices"/> but
    /// <paramref name="exclude"/>, slice 0 on this thread and the others on the helpers, and
    /// returns when all are done. A socket that refuses (a full queue, a closing socket, a
    /// transport that throws) marks its member refused, and the first refusal tells the member's
    /// actor, which cuts a slow consumer off; <paramref name="refused"/> says whether any did, so
    /// that the hub drops them from its arrays.
    /// </summary>
    public int Write(FanOutSlice[] slices, byte[] frame, IConnectionTransport? exclude, out bool refused)
    {
        var helping = 0;
        for (var i = 1; i < slices.Length; i++) if (slices[i].Sockets.Length > 0) helping++;
        _helperDelivered = 0;
        _helperRefused = 0;
        _pending = helping;
        if (helping > 0)
        {
            _done.Reset();
            for (var i = 1; i < slices.Length; i++)
                if (slices[i].Sockets.Length > 0) _helpers[i - 1].Start(slices[i], frame, exclude);
        }
        var delivered = WriteSlice(slices[0], frame, exclude, out var refusedHere);
        if (helping > 0) _done.Wait();
        refused = refusedHere || Volatile.Read(ref _helperRefused) != 0;
        return delivered + Volatile.Read(ref _helperDelivered);
    }

    private static int WriteSlice(FanOutSlice slice, byte[] frame, IConnectionTransport? exclude, out bool refused)
    {
        refused = false;
        var sockets = slice.Sockets;
        var delivered = 0;
        for (var i = 0; i < sockets.Length; i++)
        {
            var socket = sockets[i];
            if (ReferenceEquals(socket, exclude)) continue;
            bool sent;
            try { sent = socket.TrySend(frame); }
            catch (Exception) { sent = false; } // a broken transport is cut off like a full one, and the broadcast goes on
            if (sent)
            {
                delivered++;
                continue;
            }
            refused = true;
            var member = slice.Members[i];
            if (member.TryRefuse()) member.Connection.Tell(ConnectionMessages.OutboundRefused.Instance);
        }
        return delivered;
    }

    private void SliceDone(int delivered, bool refused)
    {
        Interlocked.Add(ref _helperDelivered, delivered);
        if (refused) Volatile.Write(ref _helperRefused, 1);
        if (Interlocked.Decrement(ref _pending) == 0) _done.Set();
    }

    /// <summary>Stops the helper threads (the hub stopped; nothing is written any more).</summary>
    public void Dispose()
    {
        foreach (var helper in _helpers) helper.Stop();
    }

    /// <summary>A thread that writes one slice when told, then waits for the next.</summary>
    private sealed class Helper
    {
        private readonly ParallelFanOut _owner;
        private readonly SemaphoreSlim _go = new(0);
        private FanOutSlice? _slice;
        private byte[]? _frame;
        private IConnectionTransport? _exclude;
        private volatile bool _stopped;

        public Helper(ParallelFanOut owner, int index)
        {
            _owner = owner;
            new Thread(Run) { IsBackground = true, Name = $"broker-fanout-{index}" }.Start();
        }

        /// <summary>Hands it a slice (the semaphore's release publishes the fields to the helper's thread).</summary>
        public void Start(FanOutSlice slice, byte[] frame, IConnectionTransport? exclude)
        {
            _slice = slice;
            _frame = frame;
            _exclude = exclude;
            _go.Release();
        }

        public void Stop()
        {
            _stopped = true;
            _go.Release();
        }

        private void Run()
        {
            while (true)
            {
                _go.Wait();
                if (_stopped) return;
                var delivered = 0;
                var refused = false;
                try { delivered = WriteSlice(_slice!, _frame!, _exclude, out refused); }
                catch (Exception) { /* sends are guarded one by one: nothing else throws, and the hub must never wait forever */ }
                finally
                {
                    _slice = null;
                    _frame = null;
                    _exclude = null;
                    _owner.SliceDone(delivered, refused);
                }
            }
        }
    }
}
