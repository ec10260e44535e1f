using System.Runtime.InteropServices;

namespace Broker.Bench.Infra;

/// <summary>
/// Raises RLIMIT_NOFILE as far as the kernel allows: tens of thousands of sockets need as many
/// descriptors in the server and in the load generator, and the default soft limit is far lower.
/// </summary>
public static partial class ResourceLimits
{
    private const int RlimitNoFile = 7; // Linux

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Max;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int getrlimit(int resource, out RLimit limit);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setrlimit(int resource, in RLimit limit);

    /// <summary>Raises the descriptor limit (to the hard limit, or beyond it when running as root); returns the new soft limit.</summary>
    public static ulong RaiseFileLimit(ulong wanted = 1_048_576)
    {
        if (!OperatingSystem.IsLinux()) return 0;
        if (getrlimit(RlimitNoFile, out var limit) != 0) return 0;
        // With CAP_SYS_RESOURCE the hard limit rises too (up to fs.nr_open); without, the soft one rises to the hard one.
        var raised = new RLimit { Current = wanted, Max = Math.Max(wanted, limit.Max) };
        if (setrlimit(RlimitNoFile, raised) == 0) return wanted;
        var soft = new RLimit { Current = limit.Max, Max = limit.Max };
        return setrlimit(RlimitNoFile, soft) == 0 ? limit.Max : limit.Current;
    }
}
