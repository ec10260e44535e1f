using System.Runtime.InteropServices;

namespace Broker.Bench.Servers;

/// <summary>
/// A process's CPU time (user + system) read from the outside, from <c>/proc/&lt;pid&gt;/stat</c>:
/// a phase can be bracketed without asking the server anything, so the reading costs the server
/// nothing and cannot queue behind the work it measures. Resolution is one clock tick (10 ms on
/// Linux), so phases are measured over hundreds of milliseconds at least.
/// </summary>
public static partial class ProcessCpu
{
    private const int ScClkTck = 2; // sysconf(_SC_CLK_TCK) on Linux

    private static readonly Lazy<double> MsPerTick = new(() =>
    {
        var ticks = OperatingSystem.IsLinux() ? sysconf(ScClkTck) : -1;
        return 1000.0 / (ticks > 0 ? ticks : 100);
    });

    [LibraryImport("libc", SetLastError = true)]
    private static partial long sysconf(int name);

    /// <summary>utime + stime of <paramref name="pid"/> in milliseconds; null where /proc cannot say (not Linux, process gone).</summary>
    public static double? Milliseconds(int pid)
    {
        string stat;
        try { stat = File.ReadAllText($"/proc/{pid}/stat"); }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
        // "pid (comm) state ppid …": comm may hold spaces and parentheses, so fields count from the last ')'.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // Fields 14 and 15 of proc(5) (utime, stime) are the 12th and 13th after comm.
        if (fields.Length < 13 || !long.TryParse(fields[11], out var user) || !long.TryParse(fields[12], out var system)) return null;
        return (user + system) * MsPerTick.Value;
    }
}
