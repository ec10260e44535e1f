using System.Diagnostics;
using System.Text.Json.Serialization;

namespace Broker.Bench.Servers;

/// <summary>
/// A server process's own account of itself, served at <c>/bench/stats</c>: the load generator
/// runs in another process, so these numbers hold no client allocations, memory or CPU.
/// </summary>
public sealed record ServerStats(
    long WorkingSet,
    long GcHeap,
    long AllocatedBytes,
    double CpuMs,
    int Gen0,
    int Gen1,
    int Gen2,
    int Connections,
    long JitMethods,
    double JitMs)
{
    /// <summary>Measures this process; with <paramref name="collect"/> a full blocking GC first (memory baselines).</summary>
    public static ServerStats Measure(int connections, bool collect)
    {
        if (collect)
        {
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        }
        using var self = Process.GetCurrentProcess();
        return new ServerStats(
            ReadRss(),
            GC.GetTotalMemory(false),
            GC.GetTotalAllocatedBytes(precise: false),
            self.TotalProcessorTime.TotalMilliseconds,
            GC.CollectionCount(0),
            GC.CollectionCount(1),
            GC.CollectionCount(2),
            connections,
            System.Runtime.JitInfo.GetCompiledMethodCount(),
            System.Runtime.JitInfo.GetCompilationTime().TotalMilliseconds);
    }

    /// <summary>VmRSS from /proc (what <c>top</c> calls RES), falling back to the runtime's working set.</summary>
    private static long ReadRss()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (!line.StartsWith("VmRSS:", StringComparison.Ordinal)) continue;
                var kb = line["VmRSS:".Length..].Trim().Split(' ')[0];
                return long.Parse(kb) * 1024;
            }
        }
        catch (IOException) { }
        return Environment.WorkingSet;
    }
}

[JsonSerializable(typeof(ServerStats))]
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
public sealed partial class BenchJsonContext : JsonSerializerContext;
