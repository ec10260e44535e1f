using Broker.AspNetCore.WebSockets;

namespace Broker.Tests.WebSockets;

/// <summary>
/// <see cref="CorkableStream"/> over a recording stream: writes pass through uncorked, a corked
/// batch is one write, the cap writes early, and a control write racing an uncork never overlaps it.
/// </summary>
public sealed class CorkableStreamTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task Uncorked_writes_pass_straight_through()
    {
        var inner = new RecordingStream();
        var stream = new CorkableStream(inner, capacity: 1024);

        await stream.WriteAsync(Bytes('a', 10));
        Assert.Equal(["a×10"], inner.Writes);
        await stream.WriteAsync(Bytes('b', 5));
        Assert.Equal(["a×10", "b×5"], inner.Writes);
    }

    [Fact]
    public async Task A_corked_batch_goes_out_in_one_write_and_flush_on_uncork()
    {
        var inner = new RecordingStream();
        var stream = new CorkableStream(inner, capacity: 1024);

        stream.Cork();
        await stream.WriteAsync(Bytes('a', 10));
        await stream.WriteAsync(Bytes('b', 20));
        await stream.FlushAsync(); // a flush while corked is the uncork's to do
        await stream.WriteAsync(Bytes('c', 30));
        Assert.Empty(inner.Writes);

        Assert.Equal(1, await stream.UncorkAsync());
        Assert.Equal(["a×10b×20c×30"], inner.Writes);
        Assert.Equal(1, inner.Flushes);
        Assert.False(stream.IsCorked);

        await stream.WriteAsync(Bytes('d', 1)); // uncorked again: straight through
        Assert.Equal(["a×10b×20c×30", "d×1"], inner.Writes);
    }

    [Fact]
    public async Task An_empty_batch_writes_nothing()
    {
        var inner = new RecordingStream();
        var stream = new CorkableStream(inner, capacity: 1024);

        stream.Cork();
        Assert.Equal(0, await stream.UncorkAsync());
        Assert.Empty(inner.Writes);
    }

    [Fact]
    public async Task A_batch_past_the_cap_is_written_early_and_a_frame_larger_than_the_cap_on_its_own()
    {
        var inner = new RecordingStream();
        var stream = new CorkableStream(inner, capacity: 1024);

        stream.Cork();
        await stream.WriteAsync(Bytes('a', 600));
        Assert.Empty(inner.Writes);
        await stream.WriteAsync(Bytes('b', 600)); // would overflow: the 600 held go first
        Assert.Equal(["a×600"], inner.Writes);
        await stream.WriteAsync(Bytes('c', 2000)); // larger than the buffer: held bytes, then it alone
        Assert.Equal(["a×600", "b×600", "c×2000"], inner.Writes);
        await stream.WriteAsync(Bytes('d', 10));

        Assert.Equal(4, await stream.UncorkAsync());
        Assert.Equal(["a×600", "b×600", "c×2000", "d×10"], inner.Writes);
    }

    [Fact]
    public async Task A_control_write_during_a_batch_keeps_its_place_and_one_racing_the_uncork_waits_for_it()
    {
        var inner = new RecordingStream();
        var stream = new CorkableStream(inner, capacity: 1024);

        stream.Cork();
        await stream.WriteAsync(Bytes('a', 10));
        await stream.WriteAsync(Bytes('p', 2)); // a pong from the receive side, between two frames
        await stream.WriteAsync(Bytes('b', 10));

        inner.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var uncork = stream.UncorkAsync().AsTask();
        await inner.WriteStarted.Task.WaitAsync(Timeout); // the batch is on its way to the socket
        var control = stream.WriteAsync(Bytes('q', 2)).AsTask(); // another control frame, now
        await Task.Delay(50); // gives a wrongly unguarded write the chance to overlap (the recorder would throw)
        Assert.False(control.IsCompleted);
        Assert.Equal(1, inner.WritesStarted);

        inner.Gate.SetResult();
        Assert.Equal(1, await uncork.WaitAsync(Timeout));
        await control.WaitAsync(Timeout);
        Assert.Equal(["a×10p×2b×10", "q×2"], inner.Writes);
        Assert.False(inner.Overlapped);
    }

    [Fact]
    public async Task Many_uncorks_racing_control_writes_never_overlap_or_reorder()
    {
        var inner = new RecordingStream { Yield = true };
        var stream = new CorkableStream(inner, capacity: 64 * 1024); // no early writes: each batch must be one write
        using var stop = new CancellationTokenSource();
        var controls = 0;
        var controlWriter = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await stream.WriteAsync(Bytes('p', 1));
                Interlocked.Increment(ref controls);
            }
        });

        for (var batch = 0; batch < 500; batch++)
        {
            stream.Cork();
            for (var frame = 0; frame < 5; frame++) await stream.WriteAsync(Bytes('f', 40));
            await stream.UncorkAsync();
        }
        stop.Cancel();
        await controlWriter.WaitAsync(Timeout);

        Assert.False(inner.Overlapped);
        Assert.Equal(500 * 5 * 40 + controls, inner.TotalBytes);
        // Each batch is one write, whole (control frames held inside it included): 500 writes with frames.
        var batches = inner.Writes.Where(w => w.Contains('f')).ToList();
        Assert.Equal(500, batches.Count);
        Assert.All(batches, w => Assert.Equal(200, FrameBytes(w)));
    }

    private static int FrameBytes(string runs) =>
        runs.Split('f', StringSplitOptions.RemoveEmptyEntries).Where(r => r.StartsWith('×'))
            .Sum(r => int.Parse(new string(r.Skip(1).TakeWhile(char.IsDigit).ToArray())));

    private static byte[] Bytes(char c, int n) => Enumerable.Repeat((byte)c, n).ToArray();

    /// <summary>Records each write as runs ("a×3b×2"); flags writes that overlap; can hold a write at a gate.</summary>
    private sealed class RecordingStream : TestStream
    {
        private int _inWrite;
        private readonly object _lock = new();
        public List<string> Writes { get; } = new();
        public int Flushes;
        public int WritesStarted;
        public long TotalBytes;
        public volatile bool Overlapped;
        public bool Yield { get; init; }
        public TaskCompletionSource? Gate;
        public TaskCompletionSource WriteStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (Interlocked.Exchange(ref _inWrite, 1) == 1) Overlapped = true;
            Interlocked.Increment(ref WritesStarted);
            var copy = buffer.ToArray();
            WriteStarted.TrySetResult();
            if (Gate is { } gate) await gate.Task;
            if (Yield) await Task.Yield();
            lock (_lock)
            {
                Writes.Add(Runs(copy));
                TotalBytes += copy.Length;
            }
            Volatile.Write(ref _inWrite, 0);
        }

        public override Task FlushAsync(CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Flushes);
            return Task.CompletedTask;
        }

        private static string Runs(byte[] bytes)
        {
            var parts = new List<string>();
            for (var i = 0; i < bytes.Length;)
            {
                var j = i;
                while (j < bytes.Length && bytes[j] == bytes[i]) j++;
                parts.Add($"{(char)bytes[i]}×{j - i}");
                i = j;
            }
            return string.Concat(parts);
        }

        public override void Flush() => Flushes++;
    }
}
