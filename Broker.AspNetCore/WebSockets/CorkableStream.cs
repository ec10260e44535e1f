using System.Buffers;
using System.Runtime.CompilerServices;
using Broker.Actors.Connections;

namespace Broker.AspNetCore.WebSockets;

/// <summary>
/// The upgraded connection's stream as the <c>ManagedWebSocket</c> writes to it, able to hold
/// writes back. Not corked, every write passes straight through (on Kestrel a write is a write and
/// a flush), so the pongs and close frames the socket sends on its own never wait. Corked, writes
/// are copied into a pooled buffer of at most <c>capacity</c> bytes (written early when the next
/// write would overflow it; a write larger than the buffer goes out on its own), and
/// <see cref="UncorkAsync"/> writes them in one write and flush. The write loop can also put whole
/// text messages straight into the held buffer (<see cref="TryHoldTextMessage"/>), framed here
/// rather than by the socket. Reads are untouched.
/// </summary>
/// <remarks>
/// The socket's send lock serializes its own writes, but an uncork comes from the write loop,
/// outside that lock, and can meet a control frame the receive side is writing: one lock here
/// orders every write to the inner stream. Uncontended, taking it allocates nothing.
/// </remarks>
public sealed class CorkableStream(Stream inner, int capacity) : Stream, ICorkable
{
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private volatile bool _corked;
    private byte[]? _held; // rented at a batch's first write, returned by the uncork: idle sockets hold none
    private int _count;
    private int _writes; // writes to the inner stream during the current batch

    /// <summary>Whether writes are being held (tests).</summary>
    public bool IsCorked => _corked;

    public void Cork() => _corked = true;

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<int> UncorkAsync()
    {
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            // Cleared first: a write waiting for the lock goes straight through after the batch.
            _corked = false;
            if (_count > 0)
            {
                await inner.WriteAsync(_held!.AsMemory(0, _count)).ConfigureAwait(false);
                await inner.FlushAsync().ConfigureAwait(false);
                _writes++;
            }
            return _writes;
        }
        finally
        {
            _count = 0;
            _writes = 0;
            if (_held is not null)
            {
                ArrayPool<byte>.Shared.Return(_held);
                _held = null;
            }
            _writeLock.Release();
        }
    }

    public bool TryHoldTextMessage(ReadOnlySpan<byte> utf8Payload)
    {
        var size = ServerTextFrame.HeaderLength(utf8Payload.Length) + utf8Payload.Length;
        // Never waits: a write under way (a pong the receive side is sending, an early write) makes
        // the caller send this frame through the socket, which waits its turn on the lock.
        if (!_corked || _count + size > capacity || !_writeLock.Wait(0)) return false;
        try
        {
            if (!_corked || _count + size > capacity) return false;
            _held ??= ArrayPool<byte>.Shared.Rent(capacity);
            _count += ServerTextFrame.Write(_held.AsSpan(_count), utf8Payload);
            return true;
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        WriteCoreAsync(buffer, cancellationToken);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteCoreAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) =>
        WriteCoreAsync(buffer.AsMemory(offset, count), CancellationToken.None).AsTask().GetAwaiter().GetResult();

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WriteCoreAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!_corked)
            {
                await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
                return;
            }
            if (_count > 0 && _count + buffer.Length > capacity)
            {
                // Past the cap: what is held goes out now, so a batch never holds more than the cap.
                await inner.WriteAsync(_held!.AsMemory(0, _count), cancellationToken).ConfigureAwait(false);
                _count = 0;
                _writes++;
            }
            if (buffer.Length >= capacity)
            {
                await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
                _writes++;
                return;
            }
            _held ??= ArrayPool<byte>.Shared.Rent(capacity);
            buffer.Span.CopyTo(_held.AsSpan(_count));
            _count += buffer.Length;
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public override Task FlushAsync(CancellationToken cancellationToken) =>
        _corked ? Task.CompletedTask : inner.FlushAsync(cancellationToken); // corked: the uncork flushes

    public override void Flush()
    {
        if (!_corked) inner.Flush();
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        inner.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        inner.ReadAsync(buffer, offset, count, cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

    public override bool CanRead => inner.CanRead;
    public override bool CanWrite => inner.CanWrite;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing) inner.Dispose();
        base.Dispose(disposing);
    }

    public override ValueTask DisposeAsync() => inner.DisposeAsync();
}
