using System.Diagnostics;
using System.Runtime.InteropServices;
using Broker.Bench.Infra;
using Broker.Bench.Report;

namespace Broker.Bench.Scenarios;

/// <summary>
/// How steady the machine's CPUs are, measured with no server at all: the same fixed piece of work
/// (integer arithmetic and a walk over 64 MiB, so caches and memory count too) timed many times on
/// each CPU in turn, this thread pinned to it. On a dedicated core the times agree within a few
/// per cent; where they spread, a server's CPU per delivery spreads as much from run to run with
/// the same code, and only ratios measured side by side in alternating rounds mean anything.
/// Named only (<c>machine</c>), not part of <c>all</c>.
/// </summary>
public static class MachineScenario
{
    private const int MemoryBytes = 64 << 20;

    public static Task<ScenarioReport> RunAsync(BenchOptions options)
    {
        var report = new ScenarioReport("machine");
        var samples = options.Smoke ? 5 : 40;
        var table = new Table($"machine: one fixed piece of work timed {samples} times per CPU (ms)",
            "cpu", "min", "p25", "median", "p75", "max", "max/min");
        var memory = new byte[MemoryBytes];
        var done = new TaskCompletionSource<ScenarioReport>();
        // A thread of its own, so pinning it leaves the rest of the process where it was.
        var thread = new Thread(() =>
        {
            try
            {
                Work(memory); // warm: JIT and page faults out of the first sample
                for (var cpu = 0; cpu < Environment.ProcessorCount; cpu++)
                {
                    if (!PinCurrentThread(cpu))
                    {
                        report.Notes.Add($"machine: CPU {cpu} could not be pinned (sched_setaffinity), skipped");
                        continue;
                    }
                    var times = new double[samples];
                    for (var i = 0; i < samples; i++)
                    {
                        var started = Stopwatch.GetTimestamp();
                        Work(memory);
                        times[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                    }
                    Array.Sort(times);
                    table.Add(cpu.ToString(), F(times[0]), F(times[samples / 4]), F(times[samples / 2]), F(times[3 * samples / 4]),
                        F(times[^1]), $"{times[^1] / times[0]:0.00}×");
                }
                report.Tables.Add(table);
                report.Notes.Add("machine: the same work each time; a spread here is the machine's (other tenants, frequency), and a server's µs per delivery spreads with it");
                done.SetResult(report);
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        }) { IsBackground = true, Name = "machine probe" };
        thread.Start();
        return done.Task;
    }

    private static string F(double ms) => ms.ToString("0.0");

    private static ulong _sink;

    /// <summary>About 0.2 s on the machines of docs/benchmarks.md: a dependent multiply chain, then four passes over the buffer.</summary>
    private static void Work(byte[] memory)
    {
        var x = 0UL;
        for (var i = 0UL; i < 200_000_000UL; i++) x += i * 2654435761UL;
        for (var pass = 0; pass < 4; pass++)
            for (var j = 0; j < memory.Length; j += 64) memory[j]++;
        _sink += x;
    }

    private static bool PinCurrentThread(int cpu)
    {
        if (!OperatingSystem.IsLinux()) return false;
        var mask = 1UL << cpu;
        return sched_setaffinity(0, (nint)sizeof(ulong), ref mask) == 0; // 0: the calling thread
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int sched_setaffinity(int pid, nint cpusetsize, ref ulong mask);
}
