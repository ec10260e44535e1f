using System.Globalization;
using System.Runtime.InteropServices;

namespace Broker.Bench.Infra;

/// <summary>
/// <c>--server-cpus 0</c>: every server process runs on those CPUs only and this process (the load
/// generator: subscribers and publishers) on the others. On a shared two-core machine the clients
/// of whichever server runs otherwise take cores from it, and the ratio between two servers
/// measures the clients as much as the servers (docs/benchmarks.md). Linux only.
/// </summary>
/// <remarks>
/// A server is started under <c>taskset</c>, so every thread it ever makes has the mask from the
/// exec on. This process is already running: each of its threads is set here
/// (<c>sched_setaffinity</c> is per thread on Linux), and threads made later inherit the mask from
/// the thread that makes them.
/// </remarks>
public static class CpuPinning
{
    /// <summary>The CPUs servers run on, or null (not pinned).</summary>
    public static int[]? ServerCpus { get; private set; }

    /// <summary>The CPUs this process was left with, or null.</summary>
    public static int[]? ClientCpus { get; private set; }

    /// <summary>Pins this process to every online CPU but <paramref name="serverCpus"/>; throws when none would be left.</summary>
    public static void Apply(int[] serverCpus)
    {
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("--server-cpus needs Linux (taskset, sched_setaffinity)");
        var online = Environment.ProcessorCount;
        if (serverCpus.Length == 0 || serverCpus.Any(c => c < 0 || c >= online))
            throw new ArgumentException($"--server-cpus takes CPUs between 0 and {online - 1}");
        var client = Enumerable.Range(0, online).Except(serverCpus).ToArray();
        if (client.Length == 0) throw new ArgumentException("--server-cpus leaves no CPU for the load generator");
        ulong mask = 0;
        foreach (var cpu in client) mask |= 1UL << cpu;
        foreach (var task in Directory.GetDirectories("/proc/self/task"))
        {
            var tid = int.Parse(Path.GetFileName(task), CultureInfo.InvariantCulture);
            // A thread that ended since the listing is fine to miss.
            _ = sched_setaffinity(tid, (nint)sizeof(ulong), ref mask);
        }
        ServerCpus = serverCpus;
        ClientCpus = client;
    }

    /// <summary>The program and arguments a server is started with: itself, or under <c>taskset -c</c>.</summary>
    public static (string FileName, IEnumerable<string> Prefix) Launcher(string fileName) =>
        ServerCpus is { } cpus ? ("taskset", ["-c", string.Join(',', cpus), fileName]) : (fileName, []);

    /// <summary>How the run was placed, for the report's header.</summary>
    public static string Describe() => ServerCpus is { } server
        ? $"servers pinned to CPU {string.Join(',', server)}, load generator to CPU {string.Join(',', ClientCpus!)}"
        : "not pinned: servers and load generator share every CPU";

    [DllImport("libc", SetLastError = true)]
    private static extern int sched_setaffinity(int pid, nint cpusetsize, ref ulong mask);
}
