namespace Broker.Bench.Infra;

/// <summary>
/// The command line: <c>&lt;scenario&gt;… [--smoke] [--subscribers 1000,10000] [--publishers 4]
/// [--rate 100] [--seconds 10] [--idle 50000] [--servers broker,raw,signalr] [--minutes 10]
/// [--stores memory,sqlite,postgresql] [--pg-fsync] [--server-cpus 0] [--rounds 3] [--verbose]</c>.
/// <c>--smoke</c> shrinks every size so the whole tool runs in seconds (CI).
/// </summary>
public sealed class BenchOptions
{
    public static readonly string[] AllScenarios = ["fan-out", "idle", "cluster", "detection", "slow-consumer", "durable", "big-room"];

    /// <summary>The room stores the durable scenario compares (<c>--stores</c>); memory is the reference.</summary>
    public static readonly string[] AllStores = ["memory", "sqlite", "postgresql"];

    /// <summary>Scenarios only run when named: not part of <c>all</c> or <c>--smoke</c> (the soak takes minutes; machine measures no server).</summary>
    public static readonly string[] ExplicitScenarios = ["soak", "machine"];

    public List<string> Scenarios { get; } = new();
    public bool Smoke { get; private set; }
    public int[] Subscribers { get; private set; } = [1000, 10_000];
    /// <summary>Whether <c>--subscribers</c> was given (scenarios with a size of their own use it only then).</summary>
    public bool SubscribersGiven { get; private set; }
    public int Publishers { get; private set; } = 4;
    /// <summary>Open-loop publishes/s for the latency phase; 0 = 100 per 1k subscribers scaled to 100k deliveries/s.</summary>
    public double Rate { get; private set; }
    public TimeSpan Phase { get; private set; } = TimeSpan.FromSeconds(10);
    public int IdleConnections { get; private set; } = 50_000;
    public ServerKind[] Servers { get; private set; } = [ServerKind.Broker, ServerKind.Raw, ServerKind.SignalR];
    public int Padding { get; private set; } = 64;
    /// <summary>
    /// fan-out: <c>--transport sse</c> measures the broker a second time in the same run with every
    /// subscriber on the SSE fallback (PROTOCOL §9.4), beside its WebSocket subscribers.
    /// </summary>
    public bool SseSubscribers { get; private set; }
    /// <summary>How long the soak's chaos and load phase lasts (<c>--minutes</c>).</summary>
    public TimeSpan SoakDuration { get; private set; } = TimeSpan.FromMinutes(10);
    public bool Verbose { get; private set; }
    /// <summary>The durable scenario's stores, in order (<c>--stores</c>).</summary>
    public string[] Stores { get; private set; } = AllStores;
    /// <summary>The durable scenario's PostgreSQL runs with fsync on (<c>--pg-fsync</c>); off by default, synchronous_commit on either way.</summary>
    public bool PgFsync { get; private set; }
    /// <summary>Extra configuration for every broker process (<c>--set Key=Value</c>, repeatable): tuning experiments.</summary>
    public Dictionary<string, string> BrokerSettings { get; } = new();
    /// <summary>CPUs the servers run on, the load generator on the rest (<c>--server-cpus 0</c>, see <see cref="CpuPinning"/>); empty: not pinned.</summary>
    public int[] ServerCpus { get; private set; } = [];
    /// <summary>How many times each measurement repeats, alternating (<c>--rounds 3</c>): fan-out alternates the servers, big-room the sizes; the targets use the median of each round's own ratio.</summary>
    public int Rounds { get; private set; } = 1;

    public static BenchOptions Parse(string[] args)
    {
        var options = new BenchOptions();
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--smoke": options.Smoke = true; break;
                case "--verbose": options.Verbose = true; break;
                case "--set":
                    var setting = Next().Split('=', 2);
                    options.BrokerSettings[setting[0]] = setting.Length > 1 ? setting[1] : "";
                    break;
                case "--subscribers": options.Subscribers = Next().Split(',').Select(int.Parse).ToArray(); options.SubscribersGiven = true; break;
                case "--stores":
                    options.Stores = Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                    if (options.Stores.FirstOrDefault(s => !AllStores.Contains(s)) is { } unknown)
                        throw new ArgumentException($"unknown store '{unknown}' ({string.Join(", ", AllStores)})");
                    break;
                case "--pg-fsync": options.PgFsync = true; break;
                case "--rounds": options.Rounds = Math.Max(1, int.Parse(Next())); break;
                case "--server-cpus": options.ServerCpus = Next().Split(',').Select(int.Parse).ToArray(); break;
                case "--publishers": options.Publishers = int.Parse(Next()); break;
                case "--rate": options.Rate = double.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture); break;
                case "--seconds": options.Phase = TimeSpan.FromSeconds(double.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture)); break;
                case "--idle": options.IdleConnections = int.Parse(Next()); break;
                case "--minutes": options.SoakDuration = TimeSpan.FromMinutes(double.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture)); break;
                case "--padding": options.Padding = int.Parse(Next()); break;
                case "--transport":
                    options.SseSubscribers = Next() switch
                    {
                        "sse" => true,
                        "websocket" => false,
                        var other => throw new ArgumentException($"--transport is sse or websocket, not '{other}'"),
                    };
                    break;
                case "--servers": options.Servers = Next().Split(',').Select(ServerKinds.Parse).ToArray(); break;
                case "all": options.Scenarios.AddRange(AllScenarios); break;
                case var s when AllScenarios.Contains(s) || ExplicitScenarios.Contains(s): options.Scenarios.Add(s); break;
                default: throw new ArgumentException($"unknown argument '{args[i]}'");
            }
        }
        if (options.Smoke)
        {
            if (options.Scenarios.Count == 0) options.Scenarios.AddRange(AllScenarios);
            options.Subscribers = [50];
            options.SubscribersGiven = false;
            options.Publishers = 2;
            options.Phase = TimeSpan.FromSeconds(1.5);
            options.IdleConnections = 200;
        }
        if (options.Scenarios.Count == 0) throw new ArgumentException("name a scenario: " + string.Join(", ", AllScenarios.Concat(ExplicitScenarios)) + ", all (or --smoke)");
        return options;
    }

    /// <summary>The latency phase's rate for <paramref name="subscribers"/>: 100/s at 1k (the p99 target's load), 100k deliveries/s above.</summary>
    public double RateFor(int subscribers) => Rate > 0 ? Rate : Math.Max(10, Math.Min(100, 100_000.0 / subscribers));
}
