using System.Diagnostics;
using Broker.Bench.Servers;

namespace Broker.Bench.Load;

/// <summary>
/// A warm-up that lasts until the servers' tiered JIT has settled, not a fixed number of seconds.
/// On these 2-core machines a broker with a durable store (linq2db, the provider, Akka.Persistence)
/// was still spending 40–60% of its CPU in the background tier-up compiler 20–30 s after start
/// (perf: the ".NET Tiered Compilation" thread), so a fixed 8 s warm-up measured the JIT, not the
/// store. The load runs in slices; the warm-up ends once a slice's compile time is under
/// <see cref="SettledJitShare"/> of its wall time on every server (after a minimum), or at a cap,
/// and says which.
/// </summary>
public static class JitSettledWarmUp
{
    /// <summary>Compile time over wall time below which the JIT counts as settled (a quiet memory-room broker: 1–5%).</summary>
    public const double SettledJitShare = 0.05;

    private static readonly TimeSpan Slice = TimeSpan.FromSeconds(2);

    /// <summary>How the warm-up went: its length, the last slice's JIT share (0–1) on the busiest server, and whether it settled before the cap.</summary>
    public sealed record Result(TimeSpan Took, double LastJitShare, bool Settled)
    {
        public string Describe() =>
            $"{Took.TotalSeconds:0} s warm-up, JIT {LastJitShare * 100:0}% of the last 2 s{(Settled ? "" : " (had not settled at the cap)")}";
    }

    /// <summary>Runs <paramref name="load"/> (given a slice's length) for at least <paramref name="min"/> and until settled or <paramref name="max"/>.</summary>
    public static async Task<Result> RunAsync(IReadOnlyList<ServerProcess> servers, Func<TimeSpan, Task> load, TimeSpan min, TimeSpan max)
    {
        var clock = Stopwatch.StartNew();
        var share = 1.0;
        while (true)
        {
            var before = await JitMsAsync(servers);
            var sliceStarted = clock.Elapsed;
            await load(Slice);
            var wall = (clock.Elapsed - sliceStarted).TotalMilliseconds;
            var after = await JitMsAsync(servers);
            share = before.Zip(after, (b, a) => (a - b) / Math.Max(1, wall)).DefaultIfEmpty(0).Max();
            if (clock.Elapsed >= min && share < SettledJitShare) return new Result(clock.Elapsed, share, true);
            if (clock.Elapsed >= max) return new Result(clock.Elapsed, share, false);
        }
    }

    /// <summary>Each server's total JIT compile time so far, in ms.</summary>
    public static async Task<double[]> JitMsAsync(IReadOnlyList<ServerProcess> servers)
    {
        var result = new double[servers.Count];
        for (var i = 0; i < servers.Count; i++) result[i] = (await servers[i].StatsAsync()).JitMs;
        return result;
    }
}
