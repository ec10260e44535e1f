using System.Diagnostics;
using System.Threading.Channels;

namespace Broker.Bench.Load;

/// <summary>
/// One publishing connection. Sends are sequential (one frame buffer reused); what to send and
/// when comes from outside: the open-loop pacer's schedule, or the throughput phase's window.
/// Replies (acks, presence) are read and dropped, errors fail the run.
/// </summary>
public sealed class Publisher : IRecordSink
{
    private readonly FanOutRun _run;
    private readonly byte[] _prefix;
    private readonly byte[] _suffix;
    private readonly byte[] _frame;
    private readonly int _padding;

    public Publisher(FanOutRun run, int index, string room, int padding)
    {
        _run = run;
        _room = room;
        Index = index;
        _padding = padding;
        _prefix = run.Dialect.PublishPrefix(room);
        _suffix = run.Dialect.PublishSuffix;
        _frame = new byte[_prefix.Length + Payload.MaxLength(padding) + _suffix.Length];
        _prefix.CopyTo(_frame, 0);
    }

    public int Index { get; }
    public LeanClient? Client { get; set; }
    /// <summary>Publishes through the project's <see cref="Broker.Client.BrokerClient"/> instead (broker runs).</summary>
    public Broker.Client.BrokerClient? Official { get; set; }
    private readonly string _room = "";
    private readonly Queue<Task<Broker.Client.PublishAck>> _acks = new();
    /// <summary>The last sequence number sent (sequences start at 1 and continue across phases).</summary>
    public long LastSent => Volatile.Read(ref _lastSent);
    private long _lastSent;

    /// <summary>Sends the next message, stamped with <paramref name="intended"/> (its scheduled time, or now).</summary>
    public async ValueTask SendNextAsync(long intended, CancellationToken cancellationToken)
    {
        var sequence = _lastSent + 1;
        if (Official is not null)
        {
            await PublishOfficialAsync(sequence, intended, cancellationToken);
            return;
        }
        var length = _prefix.Length;
        length += Payload.Write(_frame.AsSpan(length), Index, sequence, intended, _padding);
        _suffix.CopyTo(_frame, length);
        length += _suffix.Length;
        await Client!.SendAsync(_frame.AsMemory(0, length), cancellationToken);
        Volatile.Write(ref _lastSent, sequence);
    }

    /// <summary>
    /// Open loop through BrokerClient: the publish is started in order and its ack is not awaited
    /// before the next one (the client queues sends in call order); acks are collected behind, and
    /// a refused publish fails the run.
    /// </summary>
    private async ValueTask PublishOfficialAsync(long sequence, long intended, CancellationToken cancellationToken)
    {
        var payload = new byte[Payload.MaxLength(_padding)]; // the client may write it after this call returns
        var length = Payload.Write(payload, Index, sequence, intended, _padding);
        Volatile.Write(ref _lastSent, sequence);
        _acks.Enqueue(Official!.PublishWithAckAsync(_room, payload.AsMemory(0, length), excludeSelf: true, cancellationToken: cancellationToken));
        while (_acks.Count > 0 && (_acks.Peek().IsCompleted || _acks.Count > 2000)) await CollectAckAsync();
    }

    /// <summary>The oldest outstanding ack: into the run's ledger when it keeps one, a refusal fails the run.</summary>
    private async Task CollectAckAsync()
    {
        try
        {
            var ack = await _acks.Dequeue();
            _run.Acks?.Record(_room, Index, ack);
        }
        catch (Exception e) when (e is not OperationCanceledException) { _run.Fail($"publisher {Index}: publish failed: {e.Message}"); }
    }

    /// <summary>Waits for every outstanding ack (BrokerClient publishers).</summary>
    public async Task FlushAcksAsync()
    {
        while (_acks.Count > 0) await CollectAckAsync();
    }

    /// <summary>Sends what the pacer schedules until the schedule completes; records how late each send left.</summary>
    public async Task RunScheduleAsync(ChannelReader<long> reader, LatencyRecorder pacingLag, CancellationToken cancellationToken)
    {
        while (await reader.WaitToReadAsync(cancellationToken))
        {
            while (reader.TryRead(out var intended))
            {
                pacingLag.Record(intended, Stopwatch.GetTimestamp());
                await SendNextAsync(intended, cancellationToken);
            }
        }
    }

    public void OnRecord(ReadOnlySpan<byte> record)
    {
        if (_run.Dialect.IsError(record))
            _run.Fail($"publisher {Index}: server error {System.Text.Encoding.UTF8.GetString(record)}");
    }
}
