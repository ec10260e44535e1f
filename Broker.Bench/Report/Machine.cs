using System.Runtime.InteropServices;

namespace Broker.Bench.Report;

/// <summary>The machine a run was measured on, printed above every table.</summary>
public static class Machine
{
    public static string Describe()
    {
        var cpu = "unknown CPU";
        try
        {
            cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?
                .Split(':', 2)[1].Trim() ?? cpu;
        }
        catch (IOException) { }
        var memory = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1024.0 * 1024 * 1024);
        return $"{Environment.ProcessorCount} cores ({cpu}), {memory:0.0} GiB, {RuntimeInformation.OSDescription}, " +
               $".NET {Environment.Version}, server GC, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC";
    }

    /// <summary>1-minute load average: tells whether other work shared the machine.</summary>
    public static string LoadAverage()
    {
        try { return File.ReadAllText("/proc/loadavg").Split(' ')[0]; }
        catch (IOException) { return "?"; }
    }
}
