namespace Broker.Tests.WebSockets;

/// <summary>
/// The parts of a <see cref="Stream"/> that the test streams under a <c>CorkableStream</c> do not
/// vary: no seeking, no length, reads of nothing, synchronous writes through <see cref="Stream.WriteAsync(ReadOnlyMemory{byte}, CancellationToken)"/>.
/// Each test stream overrides what it records or gates.
/// </summary>
public abstract class TestStream : Stream
{
    public override void Flush() { }
    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public override int Read(byte[] buffer, int offset, int count) => 0;
    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
