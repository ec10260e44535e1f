using System.Diagnostics;
using Broker.Bench.Infra;
using Broker.Bench.Soak;
using Broker.Client;

namespace Broker.Bench.Load;

/// <summary>
/// A publisher with a room of its own: a <see cref="BrokerClient"/> that keeps a window of
/// publishes in flight (the next one leaves when the oldest is acked, and no more than
/// <see cref="MaxUndelivered"/> ahead of the witness) and times each from the call to its ack, and a witness member (a second BrokerClient) that checks what the room delivers:
/// offsets through <see cref="StreamChecker"/> (no gap, duplicate or reorder within the epoch),
/// and the payloads' sequence numbers 1, 2, 3, … Every ack goes into the <see cref="AckLedger"/>.
/// </summary>
public sealed class WindowedPublisher : IAsyncDisposable
{
    /// <summary>
    /// Publishes the witness may lag behind: half the server's per-connection outbound queue (1,000
    /// frames), so a witness slower than the acks is never cut off as a slow consumer (a memory room
    /// acks before its members have read anything).
    /// </summary>
    public const int MaxUndelivered = 500;

    private readonly SemaphoreSlim _deliveredSignal = new(0);
    private readonly BrokerClient _publisher;
    private readonly BrokerClient _witness;
    private readonly AckLedger _ledger;
    private readonly int _padding;
    private readonly StreamChecker _checker = new();
    private readonly List<string> _problems = new();
    private long _sent;
    private long _delivered;
    private long _nextSequence = 1;
    private volatile bool _stopping;

    private WindowedPublisher(int index, string room, int padding, BrokerClient publisher, BrokerClient witness, AckLedger ledger)
    {
        Index = index;
        Room = room;
        _padding = padding;
        _publisher = publisher;
        _witness = witness;
        _ledger = ledger;
    }

    public int Index { get; }
    public string Room { get; }
    /// <summary>Publishes sent (each acked or recorded as a problem).</summary>
    public long Sent => Volatile.Read(ref _sent);
    /// <summary>Messages the witness received.</summary>
    public long Delivered => Volatile.Read(ref _delivered);
    /// <summary>The epoch and offset of the witness's join (the room's state before this run published).</summary>
    public Joined? JoinedAt { get; private set; }

    /// <summary>What went wrong: refused publishes, the witness's gaps, duplicates and closes.</summary>
    public IReadOnlyList<string> Problems
    {
        get { lock (_problems) return _problems.ToArray(); }
    }

    public static async Task<WindowedPublisher> StartAsync(Uri endpoint, int index, string room, int padding, AckLedger ledger, CancellationToken cancellationToken)
    {
        var witness = await OfficialClient.ConnectAsync(endpoint, BenchTokens.Create($"witness-{index}"), cancellationToken);
        BrokerClient? publisher = null;
        try
        {
            publisher = await OfficialClient.ConnectAsync(endpoint, BenchTokens.Create($"pub-{index}"), cancellationToken);
            var run = new WindowedPublisher(index, room, padding, publisher, witness, ledger);
            witness.MessageReceived += run.OnMessage;
            witness.Resynced += resynced => run.Problem($"witness: room {resynced.Room} resynced to epoch {resynced.Epoch} (history lost)");
            witness.Closed += closed => { if (!run._stopping) run.Problem($"witness closed: {closed.Code} {closed.Reason}"); };
            publisher.Closed += closed => { if (!run._stopping) run.Problem($"publisher closed: {closed.Code} {closed.Reason}"); };
            lock (run._checker) run._checker.OnJoinSent();
            var joined = await witness.JoinAsync(room, cancellationToken);
            lock (run._checker) run._checker.OnJoined(joined.Epoch, joined.Offset, joined.Recovered, answersJoin: true);
            run.JoinedAt = joined;
            await publisher.JoinAsync(room, cancellationToken);
            return run;
        }
        catch
        {
            if (publisher is not null) await publisher.DisposeAsync();
            await witness.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Publishes for <paramref name="duration"/> with <paramref name="window"/> in flight, then waits
    /// for the last acks. Each publish→ack time goes to <paramref name="latency"/> (when not null).
    /// </summary>
    public async Task RunAsync(int window, TimeSpan duration, LatencyRecorder? latency, CancellationToken cancellationToken)
    {
        var inFlight = new Queue<Task<PublishAck>>(window);
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < duration && !cancellationToken.IsCancellationRequested)
        {
            if (inFlight.Count >= window) await CollectAsync(inFlight);
            var sequence = _sent + 1;
            while (sequence - Delivered > MaxUndelivered && clock.Elapsed < duration)
                await _deliveredSignal.WaitAsync(TimeSpan.FromMilliseconds(5), CancellationToken.None);
            // The client may write the payload after the call returns: a buffer per publish.
            var payload = new byte[Payload.MaxLength(_padding)];
            var started = Stopwatch.GetTimestamp();
            var length = Payload.Write(payload, Index, sequence, started, _padding);
            inFlight.Enqueue(TimedAsync(_publisher.PublishWithAckAsync(Room, payload.AsMemory(0, length), excludeSelf: true, cancellationToken: cancellationToken),
                started, latency));
            Volatile.Write(ref _sent, sequence);
        }
        while (inFlight.Count > 0) await CollectAsync(inFlight);
    }

    /// <summary>The ack as soon as it arrives, timed then (not when the window gets round to it).</summary>
    private static async Task<PublishAck> TimedAsync(Task<PublishAck> ack, long started, LatencyRecorder? latency)
    {
        var result = await ack.ConfigureAwait(false);
        latency?.Record(started, Stopwatch.GetTimestamp());
        return result;
    }

    /// <summary>The oldest outstanding ack, in send order, into the ledger; a refused publish is a problem.</summary>
    private async Task CollectAsync(Queue<Task<PublishAck>> inFlight)
    {
        try { _ledger.Record(Room, Index, await inFlight.Dequeue()); }
        catch (Exception e) when (e is BrokerException or TimeoutException) { Problem($"publish refused: {e.Message}"); }
    }

    /// <summary>True once the witness has received every publish sent; false after <paramref name="timeout"/>.</summary>
    public async Task<bool> WaitDeliveredAsync(TimeSpan timeout)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (Delivered < Sent)
        {
            if (Stopwatch.GetTimestamp() > deadline)
            {
                Problem($"witness received {Delivered} of {Sent} messages within {timeout.TotalSeconds:0} s");
                return false;
            }
            await Task.Delay(5);
        }
        return true;
    }

    private void OnMessage(RoomMessage message)
    {
        if (message.Room != Room || message.Epoch is not { } epoch) return;
        StreamVerdict verdict;
        lock (_checker) verdict = _checker.OnMessage(epoch, message.Offset);
        if (verdict is not (StreamVerdict.InOrder or StreamVerdict.Started))
            Problem($"witness: offset {message.Offset} of epoch {epoch}: {verdict}");
        if (!Payload.TryRead(message.Payload.Span, out _, out var sequence, out _)) Problem($"witness: offset {message.Offset} carries no benchmark payload");
        else if (sequence != _nextSequence)
            Problem($"witness: expected #{_nextSequence}, got #{sequence} ({(sequence > _nextSequence ? "lost" : "reordered or duplicated")})");
        _nextSequence = sequence + 1;
        Interlocked.Increment(ref _delivered);
        if (_deliveredSignal.CurrentCount == 0) _deliveredSignal.Release();
    }

    private void Problem(string what)
    {
        lock (_problems) if (_problems.Count < 10) _problems.Add(what);
    }

    public async ValueTask DisposeAsync()
    {
        _stopping = true;
        await _publisher.DisposeAsync();
        await _witness.DisposeAsync();
        _deliveredSignal.Dispose();
    }
}
