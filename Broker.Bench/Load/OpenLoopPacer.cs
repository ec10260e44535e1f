using System.Diagnostics;
using System.Threading.Channels;

namespace Broker.Bench.Load;

/// <summary>
/// The open-loop schedule: message k is due at start + k / rate, whatever the server does, and is
/// stamped with that due time (not the time it actually left), so a server that makes publishers
/// wait shows it as latency instead of hiding it (coordinated omission). A dedicated thread with
/// ~1 ms sleeps keeps the schedule; its own lateness is recorded separately as pacing lag so the
/// client's share of the latency is visible.
/// </summary>
public static class OpenLoopPacer
{
    /// <summary>Feeds each publisher's channel round-robin at <paramref name="rate"/> messages/s in total for <paramref name="duration"/>.</summary>
    public static Task RunAsync(IReadOnlyList<ChannelWriter<long>> publishers, double rate, TimeSpan duration, CancellationToken cancellationToken)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                var period = Stopwatch.Frequency / rate;
                var start = Stopwatch.GetTimestamp();
                var total = (long)(rate * duration.TotalSeconds);
                for (long k = 0; k < total && !cancellationToken.IsCancellationRequested; k++)
                {
                    var due = start + (long)(k * period);
                    while (true)
                    {
                        var wait = due - Stopwatch.GetTimestamp();
                        if (wait <= 0) break;
                        // Sleep in ~1 ms steps; spin only for the last 250 µs (the CPU is shared with the servers).
                        if (wait > Stopwatch.Frequency / 4000) Thread.Sleep(1);
                        else Thread.SpinWait(20);
                    }
                    publishers[(int)(k % publishers.Count)].TryWrite(due);
                }
                done.TrySetResult();
            }
            catch (Exception e)
            {
                done.TrySetException(e);
            }
            finally
            {
                foreach (var writer in publishers) writer.TryComplete();
            }
        })
        { IsBackground = true, Name = "open-loop pacer", Priority = ThreadPriority.AboveNormal };
        thread.Start();
        return done.Task;
    }
}
