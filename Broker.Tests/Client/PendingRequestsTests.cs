using Broker.Client;
using Broker.Client.Internal;

namespace Broker.Tests.Client;

/// <summary>The request table: ids, replies, timeouts on a virtual clock, failing everything on a drop.</summary>
public sealed class PendingRequestsTests
{
    private static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(10);

    [Fact]
    public void Ids_are_unique_and_increasing()
    {
        var table = new PendingRequests(new ManualTimeProvider());

        var ids = Enumerable.Range(0, 5).Select(_ => table.Add(ReplyKind.Ack).Id).ToArray();

        Assert.Equal(ids.Order(), ids);
        Assert.Equal(5, ids.Distinct().Count());
        Assert.Equal(5, table.Count);
    }

    [Fact]
    public async Task A_reply_completes_the_request_with_its_id()
    {
        var table = new PendingRequests(new ManualTimeProvider());
        var request = table.Add(ReplyKind.Ack);
        var wait = table.WaitAsync(request, TimeSpan.FromSeconds(5), "publish", CancellationToken.None);

        Assert.True(table.TryTake(request.Id, out var taken));
        taken.TrySetResult(new Reply(42));

        Assert.Equal(42, (await wait.WaitAsync(TestTimeout)).Number);
        Assert.Equal(0, table.Count);
        Assert.False(table.TryTake(request.Id, out _)); // a late duplicate reply finds nothing
    }

    [Fact]
    public async Task A_request_without_a_reply_times_out_on_the_clock_and_is_forgotten()
    {
        var clock = new ManualTimeProvider();
        var table = new PendingRequests(clock);
        var request = table.Add(ReplyKind.Pong);
        var wait = table.WaitAsync(request, TimeSpan.FromSeconds(5), "ping", CancellationToken.None);

        clock.Advance(TimeSpan.FromSeconds(4));
        Assert.False(wait.IsCompleted);
        clock.Advance(TimeSpan.FromSeconds(1));

        var error = await Assert.ThrowsAsync<TimeoutException>(() => wait.WaitAsync(TestTimeout));
        Assert.Contains("ping", error.Message);
        Assert.Equal(0, table.Count);
    }

    [Fact]
    public async Task Cancelling_the_wait_forgets_the_request()
    {
        var table = new PendingRequests(new ManualTimeProvider());
        var request = table.Add(ReplyKind.Ack);
        using var cancel = new CancellationTokenSource();
        var wait = table.WaitAsync(request, TimeSpan.FromSeconds(5), "publish", cancel.Token);

        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait.WaitAsync(TestTimeout));
        Assert.Equal(0, table.Count);
    }

    [Fact]
    public async Task A_drop_fails_every_request_in_flight_with_disconnected()
    {
        var table = new PendingRequests(new ManualTimeProvider());
        var first = table.WaitAsync(table.Add(ReplyKind.Ack), TimeSpan.FromSeconds(5), "publish", CancellationToken.None);
        var second = table.WaitAsync(table.Add(ReplyKind.Joined, "r"), TimeSpan.FromSeconds(5), "join", CancellationToken.None);

        var failed = table.FailAll(_ => new BrokerException(BrokerException.Disconnected, "dropped"));

        Assert.Equal(2, failed.Length);
        Assert.Equal(BrokerException.Disconnected, (await Assert.ThrowsAsync<BrokerException>(() => first.WaitAsync(TestTimeout))).Code);
        Assert.Equal(BrokerException.Disconnected, (await Assert.ThrowsAsync<BrokerException>(() => second.WaitAsync(TestTimeout))).Code);
        Assert.Equal(0, table.Count);
        Assert.Empty(table.FailAll(_ => new Exception()));
    }
}
