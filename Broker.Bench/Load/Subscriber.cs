using System.Diagnostics;
using Broker.Bench.Soak;

namespace Broker.Bench.Load;

/// <summary>
/// A room member that checks what it receives: per publisher, sequence numbers must arrive exactly
/// 1, 2, 3, … (a gap is a lost message, a step back a reordered or duplicated one; either fails
/// the run), and each delivery's latency from the intended send time goes to the phase's recorder.
/// </summary>
public sealed class Subscriber : IRecordSink
{
    private readonly long[] _next;
    private readonly FanOutRun _run;
    private long _received;

    public Subscriber(FanOutRun run, int id, int node, int publishers)
    {
        _run = run;
        Id = id;
        Node = node;
        _next = new long[publishers];
        Array.Fill(_next, 1);
    }

    public int Id { get; }
    /// <summary>Which server endpoint (cluster node) it is connected to.</summary>
    public int Node { get; }
    /// <summary>The lean connection, or null for a witness (see <see cref="Official"/>).</summary>
    public LeanClient? Client { get; set; }
    /// <summary>A <see cref="Broker.Client.BrokerClient"/> subscriber instead of a lean one (broker runs only).</summary>
    public Broker.Client.BrokerClient? Official { get; set; }
    public string State => Client?.State.ToString() ?? Official?.State.ToString() ?? "none";
    /// <summary>False once it plays a slow consumer: no longer expected to keep up.</summary>
    public bool Healthy { get; set; } = true;
    public long Received => Volatile.Read(ref _received);
    public LatencyRecorder? Latency { get; set; }
    /// <summary>A witness's check of the room's offsets (durable runs): consecutive within the epoch, none twice.</summary>
    public StreamChecker? Offsets { get; set; }
    /// <summary>Room offsets the <see cref="Offsets"/> check accepted.</summary>
    public long OffsetsDelivered
    {
        get
        {
            if (Offsets is not { } offsets) return 0;
            lock (offsets) return offsets.Delivered;
        }
    }
    public LatencyRecorder? NodeLatency { get; set; }

    /// <summary>The next sequence number expected from <paramref name="publisher"/>.</summary>
    public long Next(int publisher) => Volatile.Read(ref _next[publisher]);

    /// <summary>A room message's place in the stream, for <see cref="Offsets"/> (BrokerClient witnesses only).</summary>
    public void OnRoomMessage(string? epoch, long offset)
    {
        if (Offsets is not { } offsets || epoch is null) return;
        StreamVerdict verdict;
        lock (offsets) verdict = offsets.OnMessage(epoch, offset);
        if (verdict is not (StreamVerdict.InOrder or StreamVerdict.Started))
            _run.StreamProblem($"witness subscriber {Id}: room offset {offset} of epoch {epoch}: {verdict}");
    }

    public void OnRecord(ReadOnlySpan<byte> record)
    {
        if (!Payload.TryRead(record, out var publisher, out var sequence, out var stamp))
        {
            if (_run.Dialect.IsError(record))
                _run.Fail($"subscriber {Id}: server error {System.Text.Encoding.UTF8.GetString(record)}");
            return; // presence and other frames
        }
        var now = Stopwatch.GetTimestamp();
        if ((uint)publisher >= (uint)_next.Length)
        {
            _run.Fail($"subscriber {Id}: unknown publisher {publisher}");
            return;
        }
        var expected = _next[publisher];
        if (sequence != expected)
            _run.Fail($"subscriber {Id}: from publisher {publisher} expected #{expected}, got #{sequence} ({(sequence > expected ? "lost" : "reordered or duplicated")})");
        Volatile.Write(ref _next[publisher], sequence + 1);
        Interlocked.Increment(ref _received);
        Latency?.Record(stamp, now);
        NodeLatency?.Record(stamp, now);
        _run.Window?.Delivered(publisher, sequence);
    }
}
