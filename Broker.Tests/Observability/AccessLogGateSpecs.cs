using Broker.Actors.Observability;
using Broker.AspNetCore.Observability;
using Broker.Contracts.Protocol;
using Microsoft.Extensions.Logging;

namespace Broker.Tests.Observability;

/// <summary>
/// Issue #15: every join and leave is an access event, and a slow log sink let the access
/// logger's mailbox grow without bound. Through the gate it stays bounded, drops are counted,
/// closes always get in, and once the sink is fast again everything new is written.
/// </summary>
public sealed class AccessLogGateSpecs : Akka.TestKit.Xunit2.TestKit
{
    private const int Capacity = 100;

    /// <summary>A log sink that blocks while closed, counting what it wrote.</summary>
    private sealed class GatedLogger : ILogger
    {
        public readonly ManualResetEventSlim Open = new(false);
        public readonly ManualResetEventSlim Entered = new(false);
        private int _written;
        public int Written => Volatile.Read(ref _written);

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            Entered.Set();
            Open.Wait(TimeSpan.FromSeconds(30));
            Interlocked.Increment(ref _written);
        }
    }

    private static AccessEvents.Joined Joined(int n) => new($"c{n}", "u", "room");

    private static AccessEvents.Closed Closed(string connectionId) =>
        new(connectionId, "chat", "node", "127.0.0.1", TimeSpan.FromSeconds(1), Close.Normal, 1000, 1, 1, 1, 1);

    [Fact]
    public void A_stalled_sink_holds_at_most_the_capacity_drops_the_rest_always_takes_closes_and_writes_again_once_it_moves()
    {
        var logger = new GatedLogger();
        var gate = AccessLogGate.Start(Sys, logger, Capacity);
        Sys.EventStream.Publish(Joined(0));
        Assert.True(logger.Entered.Wait(TimeSpan.FromSeconds(10))); // the writer is stuck in the sink

        for (var n = 1; n <= 20 * Capacity; n++)
        {
            Sys.EventStream.Publish(Joined(n));
            Assert.InRange(gate.Backlog.Waiting, 0, Capacity);
        }
        Sys.EventStream.Publish(Closed("c1"));
        Assert.Equal(Capacity + 1, gate.Backlog.Waiting); // the close got in past a full gate

        logger.Open.Set();
        AwaitCondition(() => gate.Backlog.Waiting == 0, TimeSpan.FromSeconds(10));
        Assert.Equal(Capacity + 1, logger.Written); // the stuck one, the capacity's worth and the close; the rest dropped

        // Many rounds after the stall: nothing is dropped while the sink keeps up.
        for (var round = 0; round < 20; round++)
        {
            var before = logger.Written;
            for (var n = 0; n < Capacity / 2; n++) Sys.EventStream.Publish(Joined(n));
            AwaitCondition(() => logger.Written == before + Capacity / 2, TimeSpan.FromSeconds(10));
        }
    }
}
