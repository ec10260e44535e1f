using Broker.Actors.Handlers;

namespace Broker.Tests.Handlers;

/// <summary><see cref="MessageHandlers"/> read by connections while the app is still adding handlers.</summary>
public sealed class MessageHandlersTests
{
    private sealed class Echo : IBrokerMessageHandler
    {
        public ValueTask<HandlerReply?> HandleAsync(BrokerMessageContext context, JsonElement data, CancellationToken cancellationToken) =>
            ValueTask.FromResult<HandlerReply?>(null);
    }

    [Fact]
    public async Task Adding_while_routes_are_read_neither_throws_nor_loses_a_handler()
    {
        const int Types = 2000;
        var handlers = new MessageHandlers();
        var echo = new Echo();
        using var done = new CancellationTokenSource();

        // Readers look the route up as fast as they can, as connections being accepted would, on
        // threads of their own so they really run beside the writer.
        using var readersRunning = new CountdownEvent(2);
        var readers = Enumerable.Range(0, 2).Select(_ => Task.Factory.StartNew(() =>
        {
            handlers.ForRoute("chat");
            readersRunning.Signal();
            while (!done.IsCancellationRequested) handlers.ForRoute("chat");
        }, TaskCreationOptions.LongRunning)).ToArray();
        Assert.True(readersRunning.Wait(TimeSpan.FromSeconds(30)));
        var writer = Task.Factory.StartNew(() =>
        {
            for (var i = 0; i < Types; i++)
            {
                // A jitter, so the adds land anywhere inside the readers' look-ups, not only between them.
                Thread.SpinWait(Random.Shared.Next(0, 4000));
                handlers.Add($"app.t{i}", echo);
            }
        }, TaskCreationOptions.LongRunning);

        try
        {
            await writer.WaitAsync(TimeSpan.FromSeconds(30));
        }
        finally
        {
            done.Cancel();
            await Task.WhenAll(readers).WaitAsync(TimeSpan.FromSeconds(30));
        }

        // Every handler added is served: no answer computed before an Add was cached after it.
        var route = handlers.ForRoute("chat");
        Assert.NotNull(route);
        Assert.Equal(Types, route.Types.Count);
    }
}
