using Broker.Bench.Infra;
using Broker.Bench.Report;
using Broker.Bench.Scenarios;
using Broker.Bench.Servers;

// Broker.Bench: starts what it measures on 127.0.0.1 (each server in its own process) and prints
// a table per scenario. `serve <kind>` is the child-process side; anything else is the driver.
if (args.Length >= 2 && args[0] == "serve")
    return await ServeCommand.RunAsync(ServerKinds.Parse(args[1]), args[2..]);

BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
}
catch (Exception e) when (e is ArgumentException or FormatException)
{
    Console.Error.WriteLine(e.Message);
    Console.Error.WriteLine("usage: dotnet run -c Release --project Broker.Bench -- <fan-out|idle|cluster|detection|slow-consumer|durable|big-room|all|soak|machine>… [--smoke] " +
                            "[--subscribers 1000,10000] [--publishers 4] [--rate N] [--seconds 10] [--idle 50000] [--servers broker,raw,signalr] [--transport sse (fan-out: the broker again with SSE subscribers)] " +
                            "[--minutes 10 (soak; not part of all or --smoke)] [--stores memory,sqlite,postgresql] [--pg-fsync] (durable) [--server-cpus 0 (servers on these CPUs, the load generator on the rest)] [--rounds 3 (fan-out: each server N times, alternating; big-room: the sizes N times)] [--set Broker:Rooms:Presence=counts|full|off] (big-room)");
    return 2;
}

if (options.ServerCpus.Length > 0)
{
    try { CpuPinning.Apply(options.ServerCpus); }
    catch (Exception e) when (e is ArgumentException or PlatformNotSupportedException)
    {
        Console.Error.WriteLine(e.Message);
        return 2;
    }
}
ServerProcess.Verbose = options.Verbose;
ServerProcess.BrokerSettings = options.BrokerSettings;
ResourceLimits.RaiseFileLimit();
ThreadPool.GetMinThreads(out var workers, out var io);
ThreadPool.SetMinThreads(Math.Max(workers, 8), io);

Console.WriteLine($"Broker.Bench: {Machine.Describe()}");
Console.WriteLine($"command: dotnet run -c Release --project Broker.Bench -- {string.Join(' ', args)}");
Console.WriteLine($"load average before: {Machine.LoadAverage()}");
Console.WriteLine($"placement: {CpuPinning.Describe()}");
Console.WriteLine();

var reports = new List<ScenarioReport>();
foreach (var scenario in options.Scenarios)
{
    var started = DateTime.UtcNow;
    ScenarioReport report;
    try
    {
        report = scenario switch
        {
            "fan-out" => await FanOutScenario.RunAsync(options),
            "idle" => await IdleScenario.RunAsync(options),
            "cluster" => await ClusterScenario.RunAsync(options),
            "detection" => await DetectionScenario.RunAsync(options),
            "slow-consumer" => await SlowConsumerScenario.RunAsync(options),
            "durable" => await DurableScenario.RunAsync(options),
            "big-room" => await BigRoomScenario.RunAsync(options),
            "soak" => await SoakScenario.RunAsync(options),
            "machine" => await MachineScenario.RunAsync(options),
            _ => throw new ArgumentException(scenario),
        };
    }
    catch (Exception e)
    {
        report = new ScenarioReport(scenario);
        report.Failures.Add($"crashed: {e}");
    }
    reports.Add(report);
    foreach (var table in report.Tables) Console.WriteLine(table);
    foreach (var note in report.Notes) Console.WriteLine($"note: {note}");
    Console.WriteLine($"({scenario}: {(DateTime.UtcNow - started).TotalSeconds:0} s, load average {Machine.LoadAverage()})");
    Console.WriteLine();
}

var targets = new Table("targets (issue #9)", "target", "measured", "result");
foreach (var check in reports.SelectMany(r => r.Targets)) targets.Add(check.Target, check.Measured, Fmt.Pass(check.Pass));
if (reports.Any(r => r.Targets.Count > 0)) Console.WriteLine(targets);

var failures = reports.SelectMany(r => r.Failures.Select(f => $"{r.Name}: {f}")).ToList();
if (failures.Count == 0)
{
    Console.WriteLine(reports.Any(r => r.Notes.Any(n => n.StartsWith("baseline failed", StringComparison.Ordinal)))
        ? "correctness: every message arrived, in order, at every subscriber of the broker (a baseline failed on its own: see its notes)"
        : "correctness: every message arrived, in order, at every subscriber");
    return 0;
}
Console.WriteLine("CORRECTNESS FAILURES:");
foreach (var failure in failures) Console.WriteLine("  " + failure);
return 1;
