using System.Diagnostics;
using Broker.Bench.Infra;
using Broker.Bench.Report;
using Broker.Bench.Soak;
using HdrHistogram;

namespace Broker.Bench.Scenarios;

/// <summary>
/// soak (issue #14, "no silent loss"): 3 broker processes, members of several rooms on every
/// node, steady acked publishing, and a node killed with SIGKILL and restarted on its ports
/// every ~35 s. Clients reconnect and re-join with <c>since</c>; <see cref="StreamChecker"/>
/// judges every frame without knowing the fault timing. At the end (publishing stopped, one
/// closing publish per room, a bounded wait for convergence) every member still connected must
/// have every acked publish of each room's final epoch it was not told it missed.
/// </summary>
public static class SoakScenario
{
    private const int Nodes = 3;
    private const int Rooms = 6;
    private const int MembersPerNode = 3;
    private const double PublishesPerRoom = 10;
    private static readonly TimeSpan Heartbeat = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan FirstKill = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan KillPeriod = TimeSpan.FromSeconds(35);
    private static readonly TimeSpan Downtime = TimeSpan.FromSeconds(8);
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(30);

    public static async Task<ScenarioReport> RunAsync(BenchOptions options)
    {
        var report = new ScenarioReport("soak");
        var duration = options.SoakDuration;
        var rooms = Enumerable.Range(0, Rooms).Select(r => $"soak-{r}").ToArray();
        var ledger = new SoakLedger(rooms);
        var clock = Stopwatch.StartNew();
        // Everything ends by itself: the phases below are bounded, and this bounds them all.
        using var abort = new CancellationTokenSource(duration + TimeSpan.FromMinutes(5));
        ConsoleCancelEventHandler onCtrlC = (_, e) => { e.Cancel = true; abort.Cancel(); };
        Console.CancelKeyPress += onCtrlC;
        try
        {
            Console.Error.WriteLine($"soak: starting {Nodes} nodes…");
            await using var chaos = await NodeChaos.StartAsync(Nodes, NodeSettings(options), clock);
            var members = Enumerable.Range(0, Nodes * MembersPerNode)
                .Select(i => new SoakMember(i, i % Nodes, rooms, chaos.Endpoints, ledger, Heartbeat * 3)).ToArray();
            var publishers = rooms.Select((room, r) => new SoakPublisher(r, room, r % Nodes, chaos.Endpoints, ledger)).ToArray();

            var memberLoops = members.Select(m => m.RunAsync(abort.Token)).ToArray();
            if (!await WaitAsync(() => members.All(m => m.Joined), TimeSpan.FromSeconds(30), abort.Token))
                report.Failures.Add("not every member joined every room within 30 s of the start");

            Console.Error.WriteLine($"soak: load and chaos for {duration.TotalMinutes:0.#} min…");
            using var stopLoad = CancellationTokenSource.CreateLinkedTokenSource(abort.Token);
            var chaosLoop = chaos.RunAsync(clock.Elapsed + FirstKill, KillPeriod, Downtime, stopLoad.Token);
            var publishing = publishers.Select(p => p.RunAsync(PublishesPerRoom, stopLoad.Token, abort.Token)).ToArray();
            try { await Task.Delay(duration, abort.Token); }
            catch (OperationCanceledException) { }
            stopLoad.Cancel();
            await Task.WhenAll(publishing);
            await chaosLoop; // restarts a node that was down

            Console.Error.WriteLine("soak: closing publishes, then waiting for convergence…");
            var closed = await Task.WhenAll(publishers.Select(p => p.PublishUntilAckedAsync(TimeSpan.FromSeconds(60), abort.Token)));
            for (var r = 0; r < Rooms; r++)
                if (!closed[r]) report.Failures.Add($"{rooms[r]}: the closing publish was never acked within 60 s");
            var finals = rooms.ToDictionary(r => r, ledger.Final);
            var converged = await WaitAsync(() => members.All(m => m.Joined && rooms.All(r => finals[r].Epoch is { } e && m.Reached(r, e, finals[r].Offset))),
                Settle, abort.Token);
            var settledAt = clock.Elapsed;
            var connected = members.Where(m => m.Joined).ToHashSet();
            var notJoined = members.Where(m => !connected.Contains(m)).Select(m => m.Describe()).ToList();

            abort.Cancel();
            await Task.WhenAll(memberLoops).WaitAsync(TimeSpan.FromSeconds(15), CancellationToken.None);
            foreach (var publisher in publishers) await publisher.StopAsync();

            Evaluate(report, ledger, chaos, members, connected, rooms, finals, duration, converged, settledAt);
            report.Notes.AddRange(notJoined.Select(m => "not joined at the end: " + m));
        }
        finally
        {
            abort.Cancel(); // clients stop on every path out (the nodes stop with `chaos`)
            Console.CancelKeyPress -= onCtrlC;
        }
        return report;
    }

    private static Dictionary<string, string> NodeSettings(BenchOptions options)
    {
        var settings = new Dictionary<string, string>
        {
            ["Broker:Heartbeat:Interval"] = Heartbeat.ToString("c"),
            ["Broker:Heartbeat:Timeout"] = Heartbeat.ToString("c"),
            // The shipped limits (PROTOCOL §6), not the bench's raised ones: a soak publisher stays far below them.
            ["Broker:Limits:RatePerSecond"] = "100",
            ["Broker:Limits:RateBurst"] = "200",
            ["Broker:Limits:MaxConnectionsPerUser"] = "100",
            ["Broker:Limits:MaxConnectionsPerIp"] = "1000",
        };
        foreach (var (key, value) in options.BrokerSettings) settings[key] = value; // --set wins (experiments)
        return settings;
    }

    private static void Evaluate(ScenarioReport report, SoakLedger ledger, NodeChaos chaos, SoakMember[] members, HashSet<SoakMember> connected,
        string[] rooms, Dictionary<string, (string? Epoch, long Offset, IReadOnlyList<long> AckedOffsets, int Epochs)> finals,
        TimeSpan duration, bool converged, TimeSpan settledAt)
    {
        long silentGaps = 0, silentlyMissed = 0, duplicates = 0, reordered = 0, announced = 0, announcedMissed = 0, epochChanges = 0, unannounced = 0, delivered = 0;
        long missing = 0, notReached = 0;
        var perRoom = new Table($"soak: rooms at the end (final epoch = epoch of the room's last ack)",
            "room", "final epoch", "last acked offset", "epochs acked", "members reached it", "acked, not delivered (stayed joined)");
        var examples = new List<string>();
        foreach (var room in rooms)
        {
            var (epoch, offset, acked, epochs) = finals[room];
            long roomMissing = 0;
            var reached = 0;
            foreach (var member in members)
            {
                var checker = member.Rooms[room];
                silentGaps += checker.SilentGaps; silentlyMissed += checker.SilentlyMissed; duplicates += checker.Duplicates; reordered += checker.Reordered;
                announced += checker.AnnouncedGaps; announcedMissed += checker.AnnouncedMissed; epochChanges += checker.EpochChanges;
                unannounced += checker.UnannouncedEpochs; delivered += checker.Delivered;
                if (!connected.Contains(member) || epoch is null) continue;
                if (member.Reached(room, epoch, offset)) reached++;
                else
                {
                    notReached++;
                    if (examples.Count < 6) examples.Add($"{room}: member on node {member.Node} is at ({checker.Epoch}, {checker.Cursor}), the room at ({epoch}, {offset})");
                }
                roomMissing += checker.CountMissing(epoch, acked);
            }
            missing += roomMissing;
            perRoom.Add(room, epoch ?? "none", offset.ToString(), epochs.ToString(), $"{reached}/{connected.Count}", roomMissing.ToString());
        }

        var latency = ledger.Latency.Merge();
        var table = new Table($"soak: {Nodes} nodes, {rooms.Length} rooms × {members.Length} members ({MembersPerNode} per node), " +
                              $"{PublishesPerRoom:0} publishes/s per room, kill -9 every {KillPeriod.TotalSeconds:0} s (down {Downtime.TotalSeconds:0} s), {duration.TotalMinutes:0.#} min",
            "what", "count", "verdict");
        string Verdict(bool bad) => bad ? "FAIL" : "ok";
        table.Add("node kills / restarts / failed rejoins", $"{chaos.Kills} / {chaos.Restarts} / {chaos.RejoinFailures}", Verdict(chaos.RejoinFailures > 0));
        table.Add("publishes sent (incl. retries) / acked", $"{ledger.Published} / {ledger.Acked}", "");
        table.Add("unknown outcome (connection dropped) / no answer in 10 s / late acks", $"{ledger.UnknownOutcome} / {ledger.Unanswered} / {ledger.LateAcks}", "");
        table.Add("`unavailable` retries (publish, join) / gave up", $"{ledger.UnavailableRetries}, {ledger.JoinRetries} / {ledger.GaveUp}", "");
        table.Add("member joins unanswered after 20 s (member reconnected)", ledger.JoinsUnanswered.ToString(), "");
        table.Add("publishes refused `forbidden`", ledger.Forbidden.ToString(), Verdict(ledger.Forbidden > 0));
        table.Add("publishes refused `rate_limited`", ledger.RateLimited.ToString(), Verdict(ledger.RateLimited > 0));
        table.Add("other errors (publishers / members)", $"{ledger.OtherPublishErrors} / {ledger.MemberErrors}", "");
        table.Add("reconnects (publishers / members)", $"{ledger.PublisherReconnects} / {ledger.MemberReconnects}", "");
        table.Add("deliveries (member × message, first time)", delivered.ToString(), "");
        table.Add("silent gaps (times / messages)", $"{silentGaps} / {silentlyMissed}", Verdict(silentGaps > 0));
        table.Add("duplicates / late (below the cursor, not seen before)", $"{duplicates} / {reordered}", Verdict(duplicates + reordered > 0));
        table.Add("announced gaps, `recovered:false` (times / messages)", $"{announced} / {announcedMissed}", "");
        table.Add("epoch changes seen by members / epoch changes with no `joined` recovered:false", $"{epochChanges} / {unannounced}", Verdict(unannounced > 0));
        table.Add("same offset, different publish / one publish at two offsets", $"{ledger.Mismatches} / {ledger.DoubleApplied}", Verdict(ledger.Mismatches + ledger.DoubleApplied > 0));
        table.Add($"members connected at the end / converged (within {Settle.TotalSeconds:0} s)", $"{connected.Count}/{members.Length} / {(converged ? "yes" : "no")}", Verdict(!converged));
        table.Add("member × room short of the final acked offset", notReached.ToString(), Verdict(notReached > 0));
        table.Add("acked in the final epoch, not delivered to a member that stayed joined", missing.ToString(), Verdict(missing > 0));
        table.Add("publish→delivery latency p50 / p99 / max ms", latency.TotalCount == 0 ? "n/a"
            : $"{Fmt.Ms(latency.GetValueAtPercentile(50))} / {Fmt.Ms(latency.GetValueAtPercentile(99))} / {Fmt.Ms(latency.GetMaxValue())}", "");
        report.Tables.Add(table);
        report.Tables.Add(perRoom);

        if (silentGaps > 0) report.Failures.Add($"{silentGaps} silent gaps ({silentlyMissed} messages never delivered, never announced)");
        if (duplicates > 0) report.Failures.Add($"{duplicates} duplicate deliveries");
        if (reordered > 0) report.Failures.Add($"{reordered} deliveries out of order (an offset below one already delivered)");
        if (unannounced > 0) report.Failures.Add($"{unannounced} epoch changes without a joined recovered:false");
        if (ledger.Mismatches + ledger.DoubleApplied > 0) report.Failures.Add($"{ledger.Mismatches} offsets carried different publishes, {ledger.DoubleApplied} publishes landed at two offsets");
        if (ledger.Forbidden > 0) report.Failures.Add($"{ledger.Forbidden} publishes refused forbidden (the server forgot a member)");
        if (ledger.RateLimited > 0) report.Failures.Add($"{ledger.RateLimited} publishes refused rate_limited far below the limit");
        if (!converged || notReached > 0) report.Failures.Add($"no convergence: {notReached} member × room pairs short of the final acked offset {settledAt.TotalSeconds:0} s in");
        if (missing > 0) report.Failures.Add($"{missing} acked publishes of final epochs never reached members that stayed joined");
        if (chaos.RejoinFailures > 0) report.Failures.Add($"{chaos.RejoinFailures} restarted nodes did not rejoin");
        report.Notes.AddRange(chaos.Timeline.Select(t => "chaos " + t));
        report.Notes.AddRange(examples.Select(e => "not converged: " + e));
        report.Notes.AddRange(ledger.Samples.Select(s => "error seen: " + s));
        report.Notes.AddRange(ledger.Anomalies.Select(a => "checker: " + a));
        report.Notes.Add("soak: the checker knows no fault times; a gap is allowed only after a joined with recovered:false for that room.");
    }

    private static async Task<bool> WaitAsync(Func<bool> condition, TimeSpan timeout, CancellationToken cancellation)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout && !cancellation.IsCancellationRequested)
        {
            if (condition()) return true;
            try { await Task.Delay(250, cancellation); }
            catch (OperationCanceledException) { }
        }
        return condition();
    }
}
