using Microsoft.Diagnostics.Runtime;

// Usage: HeapStat <pid> [per] [top]
// Prints the live process's managed heap by type, divided by <per> (e.g. the number of open
// connections), largest first, listing only types with at least 0.8 objects per <per>: the
// per-connection cost of a server, type by type. Force a full GC in the target first (the bench
// servers do on GET /bench/stats?gc=true), or dead objects are counted too.
if (args.Length == 0 || !int.TryParse(args[0], out var pid))
{
    Console.Error.WriteLine("usage: HeapStat <pid> [per] [top]");
    return 2;
}
var per = args.Length > 1 ? int.Parse(args[1]) : 1;
var top = args.Length > 2 ? int.Parse(args[2]) : 60;

using var target = DataTarget.AttachToProcess(pid, suspend: true);
var clr = target.ClrVersions[0];
// The runtime's own DAC, beside it on disk: ClrMD does not download one on Linux.
var dac = Path.Combine(Path.GetDirectoryName(clr.ModuleInfo.FileName)!, OperatingSystem.IsWindows() ? "mscordaccore.dll" : "libmscordaccore.so");
using var runtime = clr.CreateRuntime(dac, ignoreMismatch: true);

var byType = new Dictionary<string, (long Count, long Bytes)>();
var bytesBySize = new Dictionary<string, (long Count, long Bytes)>();
long total = 0;
foreach (var obj in runtime.Heap.EnumerateObjects())
{
    if (!obj.IsValid || obj.IsFree) continue;
    var name = obj.Type?.Name ?? "?";
    var size = (long)obj.Size;
    total += size;
    byType[name] = byType.TryGetValue(name, out var s) ? (s.Count + 1, s.Bytes + size) : (1, size);
    // Byte arrays are everyone's buffers: by size, a pool's 4 KiB blocks tell apart from a frame or a string's bytes.
    if (name == "System.Byte[]")
    {
        var bucket = size <= 64 ? "<=64" : size <= 512 ? "<=512" : size <= 4200 ? "<=4K" : size <= 17000 ? "<=16K" : ">16K";
        bytesBySize[bucket] = bytesBySize.TryGetValue(bucket, out var b) ? (b.Count + 1, b.Bytes + size) : (1, size);
    }
}

Console.WriteLine($"heap {total / 1024:N0} KiB; per {per:N0}: {total / (double)per:F0} B");
foreach (var (name, s) in byType.Where(kv => kv.Value.Count >= per * 0.8).OrderByDescending(kv => kv.Value.Bytes).Take(top))
    Console.WriteLine($"{s.Bytes / (double)per,8:F0} B {s.Count / (double)per,6:F2}x  {name}");
foreach (var (bucket, b) in bytesBySize.OrderBy(kv => kv.Key))
    Console.WriteLine($"  byte[] {bucket,6}: {b.Bytes / (double)per,8:F0} B {b.Count / (double)per,6:F2}x");
return 0;
