using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;
using Broker.Bench.Infra;
using Broker.Bench.Soak;
using HdrHistogram;

namespace Broker.Bench.Load;

/// <summary>What one phase of a fan-out run measured, from the clients' side.</summary>
public sealed record PhaseResult(
    long Deliveries,
    TimeSpan Elapsed,
    LongHistogram Latency,
    LongHistogram PacingLag,
    IReadOnlyList<LongHistogram> LatencyByNode,
    bool Complete)
{
    public double DeliveriesPerSecond => Elapsed.TotalSeconds > 0 ? Deliveries / Elapsed.TotalSeconds : 0;
}

/// <summary>
/// One room, M checked subscribers and P publishers against one server (or several cluster
/// nodes: subscriber i and publisher p connect to node i mod n). Phases run on the same
/// connections and sequences continue across them; each phase ends only when every healthy
/// subscriber has received everything sent, or fails the run.
/// </summary>
public sealed class FanOutRun : IAsyncDisposable
{
    private readonly ConcurrentQueue<string> _failures = new();
    private readonly List<Subscriber> _subscribers = new();
    private readonly List<Publisher> _publishers = new();
    private readonly List<Task> _loops = new();
    private readonly CancellationTokenSource _stop = new();

    private FanOutRun(Dialect dialect, int nodes)
    {
        Dialect = dialect;
        Nodes = nodes;
    }

    public Dialect Dialect { get; }
    public int Nodes { get; }
    public IReadOnlyList<Subscriber> Subscribers => _subscribers;
    public IReadOnlyList<Publisher> Publishers => _publishers;
    public DeliveryWindow? Window { get; private set; }
    /// <summary>Where the BrokerClient publishers record every ack, when the run checks them (durable scenario).</summary>
    public AckLedger? Acks { get; private init; }
    /// <summary>The room every subscriber and publisher joined.</summary>
    public string Room { get; private init; } = "";
    public IReadOnlyCollection<string> Failures => _failures;
    public bool Failed => !_failures.IsEmpty;
    /// <summary>True once the run is being torn down (closes from then on are ours).</summary>
    public bool Stopping => _stop.IsCancellationRequested;

    private readonly ConcurrentQueue<string> _streamProblems = new();

    /// <summary>What the witnesses' offset checks found (durable runs), kept apart from the payload checks' first 20 failures.</summary>
    public IReadOnlyCollection<string> StreamProblems => _streamProblems;

    public void StreamProblem(string what)
    {
        if (_streamProblems.Count < 10) _streamProblems.Enqueue(what);
    }

    /// <summary>
    /// With an ack ledger: waits (up to <paramref name="timeout"/>) until every witness has been
    /// delivered as many room offsets as the room acked, each once and in order; records a stream
    /// problem for each one that has not. True when all have.
    /// </summary>
    public async Task<bool> CheckWitnessOffsetsAsync(TimeSpan timeout)
    {
        if (Acks is null) return true;
        var acked = Acks.Count(Room);
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        var witnesses = _subscribers.Where(s => s.Offsets is not null).ToArray();
        while (witnesses.Any(w => w.OffsetsDelivered < acked) && Stopwatch.GetTimestamp() < deadline) await Task.Delay(10);
        var ok = true;
        foreach (var witness in witnesses)
        {
            if (witness.OffsetsDelivered == acked) continue;
            ok = false;
            StreamProblem($"witness subscriber {witness.Id}: {witness.OffsetsDelivered} room offsets delivered, {acked} acked");
        }
        return ok;
    }

    public void Fail(string reason)
    {
        // Keep the first few: one lost message makes every later one look wrong too.
        if (_failures.Count < 20) _failures.Enqueue(reason);
    }

    /// <summary>Connects and joins everyone; <paramref name="distinctUsers"/> bounds the user ids subscribers use (see the docs: presence).</summary>
    public static async Task<FanOutRun> StartAsync(ServerKind kind, IReadOnlyList<Uri> endpoints, int subscribers, int publishers,
        int padding, string room, int distinctUsers, TimeSpan deadline, int slowReceiveBuffer = 0, int slowEvery = 0, AckLedger? acks = null,
        bool sseSubscribers = false)
    {
        ClientSockets.NextRun(subscribers + publishers);
        var run = new FanOutRun(Dialect.For(kind), endpoints.Count) { Acks = acks, Room = room };
        using var setup = new CancellationTokenSource(deadline);
        try
        {
            for (var i = 0; i < subscribers; i++) run._subscribers.Add(new Subscriber(run, i, i % endpoints.Count, publishers));
            // Tokens first: minting is not what the connect phase should measure.
            var tokens = new string[Math.Min(distinctUsers, subscribers)];
            for (var u = 0; u < tokens.Length; u++) tokens[u] = BenchTokens.Create($"sub-{u}");
            await Parallel.ForEachAsync(run._subscribers, new ParallelOptions { MaxDegreeOfParallelism = 64, CancellationToken = setup.Token },
                async (subscriber, ct) =>
                {
                    var token = tokens[subscriber.Id % tokens.Length];
                    // SSE subscribers are BrokerClients on the fallback transport (the lean client speaks WebSocket only).
                    if (kind == ServerKind.Broker && (sseSubscribers || OfficialClient.IsWitness(subscriber.Id)))
                    {
                        var official = await OfficialClient.ConnectAsync(endpoints[subscriber.Node], token, ct,
                            sseSubscribers ? Broker.Client.BrokerTransport.Sse : Broker.Client.BrokerTransport.WebSocket);
                        if (acks is not null) subscriber.Offsets = new StreamChecker();
                        official.MessageReceived += message =>
                        {
                            subscriber.OnRoomMessage(message.Epoch, message.Offset);
                            subscriber.OnRecord(message.Payload.Span);
                        };
                        official.Closed += closed =>
                        {
                            if (!run.Stopping) run.Fail($"witness subscriber {subscriber.Id} closed: {closed.Code} {closed.Reason}");
                        };
                        subscriber.Official = official;
                        subscriber.Offsets?.OnJoinSent();
                        var joined = await official.JoinAsync(room, ct);
                        subscriber.Offsets?.OnJoined(joined.Epoch, joined.Offset, joined.Recovered, answersJoin: true);
                        return;
                    }
                    var slow = slowEvery > 0 && subscriber.Id % slowEvery == slowEvery - 1;
                    var client = await LeanClient.ConnectAsync(run.Dialect, endpoints[subscriber.Node], tokens[subscriber.Id % tokens.Length],
                        subscriber.Id, ct, slow ? slowReceiveBuffer : 0);
                    await client.JoinAsync(room, ct);
                    subscriber.Client = client;
                    // Read (and answer pings) from the join on, not once everyone has joined: on a
                    // loaded machine the set-up of 10k members outlasted two heartbeat intervals,
                    // the broker rightly closed the early members for silence, and their close
                    // frames sat unread, so the run saw open sockets that received nothing.
                    var loop = run.ReadUntilClosedAsync(subscriber, client);
                    lock (run._loops) run._loops.Add(loop);
                });

            for (var p = 0; p < publishers; p++)
            {
                var publisher = new Publisher(run, p, room, padding);
                if (kind == ServerKind.Broker)
                {
                    var official = await OfficialClient.ConnectAsync(endpoints[p % endpoints.Count], BenchTokens.Create($"pub-{p}"), setup.Token);
                    official.Closed += closed =>
                    {
                        if (!run.Stopping) run.Fail($"publisher {publisher.Index} closed: {closed.Code} {closed.Reason}");
                    };
                    await official.JoinAsync(room, setup.Token);
                    publisher.Official = official;
                    run._publishers.Add(publisher);
                    continue;
                }
                var client = await LeanClient.ConnectAsync(run.Dialect, endpoints[p % endpoints.Count], BenchTokens.Create($"pub-{p}"),
                    subscribers + p, setup.Token);
                // The broker lets only members publish; SignalR's publisher needs no group.
                if (!run.Dialect.IsSignalR) await client.JoinAsync(room, setup.Token);
                publisher.Client = client;
                run._publishers.Add(publisher);
                run._loops.Add(client.RunAsync(publisher, run._stop.Token));
            }
            return run;
        }
        catch
        {
            await run.DisposeAsync();
            throw;
        }
    }

    /// <summary>A lean subscriber's receive loop; a close the run did not ask for fails it, with the server's code.</summary>
    private async Task ReadUntilClosedAsync(Subscriber subscriber, LeanClient client)
    {
        await client.RunAsync(subscriber, _stop.Token);
        if (!Stopping && subscriber.Healthy)
            Fail($"subscriber {subscriber.Id} closed: {client.CloseStatus?.ToString() ?? "no close frame"} {client.CloseDescription}");
    }

    /// <summary>
    /// Open loop: <paramref name="rate"/> publishes/s in total for <paramref name="duration"/>, then
    /// waits (up to <paramref name="drain"/>) until every healthy subscriber has everything.
    /// </summary>
    public async Task<PhaseResult> OpenLoopAsync(double rate, TimeSpan duration, TimeSpan drain, bool perNode = false)
    {
        var latency = new LatencyRecorder();
        var lag = new LatencyRecorder();
        var byNode = perNode ? Enumerable.Range(0, Nodes).Select(_ => new LatencyRecorder()).ToArray() : [];
        foreach (var s in _subscribers)
        {
            s.Latency = s.Healthy ? latency : null;
            s.NodeLatency = s.Healthy && perNode ? byNode[s.Node] : null;
        }
        var before = HealthyReceived();
        var started = Stopwatch.GetTimestamp();
        var channels = _publishers.Select(_ => Channel.CreateUnbounded<long>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true })).ToArray();
        var sending = _publishers.Select((p, i) => p.RunScheduleAsync(channels[i].Reader, lag, _stop.Token)).ToArray();
        var pacing = OpenLoopPacer.RunAsync(channels.Select(c => c.Writer).ToArray(), rate, duration, _stop.Token);
        await pacing;
        await AwaitSendersAsync(sending, drain);
        var complete = await WaitCompleteAsync(drain);
        var elapsed = Stopwatch.GetElapsedTime(started);
        foreach (var s in _subscribers) s.Latency = s.NodeLatency = null;
        return new PhaseResult(HealthyReceived() - before, elapsed, latency.Merge(), lag.Merge(),
            byNode.Select(r => r.Merge()).ToArray(), complete);
    }

    /// <summary>
    /// Throughput: publishers send as fast as a window of <paramref name="window"/> broadcasts in
    /// flight allows, for <paramref name="duration"/>; deliveries/s over the time until the last
    /// one arrived.
    /// </summary>
    public async Task<PhaseResult> SaturateAsync(int window, TimeSpan duration, TimeSpan drain)
    {
        var members = _subscribers.Count(s => s.Healthy);
        Window = new DeliveryWindow(members, window, _publishers.Select(p => p.LastSent).ToArray());
        var before = HealthyReceived();
        var started = Stopwatch.GetTimestamp();
        using var sendFor = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        sendFor.CancelAfter(duration);
        var sending = _publishers.Select(async p =>
        {
            try
            {
                while (!sendFor.IsCancellationRequested)
                {
                    await Window.WaitAsync(p.Index, p.LastSent + 1, sendFor.Token);
                    await p.SendNextAsync(Stopwatch.GetTimestamp(), _stop.Token);
                }
            }
            catch (OperationCanceledException) when (sendFor.IsCancellationRequested) { }
        }).ToArray();
        await AwaitSendersAsync(sending, duration + drain);
        var complete = await WaitCompleteAsync(drain);
        var elapsed = Stopwatch.GetElapsedTime(started);
        Window = null;
        var empty = new LongHistogram(1000, 3);
        return new PhaseResult(HealthyReceived() - before, elapsed, empty, empty, [], complete);
    }

    private async Task AwaitSendersAsync(Task[] sending, TimeSpan timeout)
    {
        try
        {
            await Task.WhenAll(sending).WaitAsync(timeout);
            await Task.WhenAll(_publishers.Select(p => p.FlushAcksAsync())).WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            Fail($"publishers could not send their schedule within {timeout.TotalSeconds:0} s (the server stopped reading them)");
        }
        catch (Exception e) when (e is System.Net.WebSockets.WebSocketException or IOException or OperationCanceledException)
        {
            Fail($"a publisher failed: {e.Message}");
        }
    }

    /// <summary>True once every healthy subscriber has every message sent so far; a timeout fails the run.</summary>
    public async Task<bool> WaitCompleteAsync(TimeSpan timeout)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            var missing = Missing(out var example);
            if (missing == 0) return true;
            if (Stopwatch.GetTimestamp() > deadline)
            {
                Fail($"{missing} deliveries missing after {timeout.TotalSeconds:0} s (e.g. {example})");
                return false;
            }
            await Task.Delay(5);
        }
    }

    private long Missing(out string example)
    {
        example = "";
        long missing = 0;
        foreach (var s in _subscribers)
        {
            if (!s.Healthy) continue;
            foreach (var p in _publishers)
            {
                var gap = p.LastSent + 1 - s.Next(p.Index);
                if (gap <= 0) continue;
                if (missing == 0) example = $"subscriber {s.Id} lacks {gap} from publisher {p.Index}, socket {s.State}";
                missing += gap;
            }
        }
        return missing;
    }

    private long HealthyReceived()
    {
        long sum = 0;
        foreach (var s in _subscribers) if (s.Healthy) sum += s.Received;
        return sum;
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        IEnumerable<IAsyncDisposable?> clients = _subscribers.Select(s => (IAsyncDisposable?)s.Client ?? s.Official)
            .Concat(_publishers.Select(p => (IAsyncDisposable?)p.Client ?? p.Official));
        await Parallel.ForEachAsync(clients.Where(c => c is not null), new ParallelOptions { MaxDegreeOfParallelism = 64 },
            async (client, _) => await client!.DisposeAsync());
        try { await Task.WhenAll(_loops).WaitAsync(TimeSpan.FromSeconds(10)); }
        catch (Exception) { /* loops end on cancellation or abort */ }
    }
}
