using Akka.Actor;
using Akka.Hosting;
using Broker.Actors.Connections;
using static Broker.Contracts.Cluster.NodeReportEvents;
using static Broker.Contracts.Cluster.NodeReportQueries;

namespace Broker.Actors.Observability;

/// <summary>How a node's report actor samples and what it keeps.</summary>
/// <param name="SampleInterval">How often it samples connections and rates (the console's charts move at this pace).</param>
/// <param name="Samples">How many samples it keeps (the charts' width: 180 at 1 s is three minutes).</param>
/// <param name="RecentCutOffs">How many recent cut-offs it keeps.</param>
public sealed record NodeReportSettings(TimeSpan SampleInterval, int Samples, int RecentCutOffs)
{
    /// <summary>One sample a second, three minutes of them, the last 50 cut-offs.</summary>
    public static readonly NodeReportSettings Default = new(TimeSpan.FromSeconds(1), 180, 50);
}

/// <summary>
/// One per node, at <see cref="Contracts.Cluster.NodeReportQueries.Path"/>: answers <see cref="GetNodeReport"/> with this node's
/// figures, so the console on any node can show every node by asking each one. It samples the
/// connection count (from the supervisor) and the message rates (<see cref="BrokerCounters"/>)
/// on a timer, and follows the node's access events for room counts and cut-offs; the state is
/// in <see cref="LocalActivity"/>, <see cref="NodeSeries"/> and <see cref="CutOffLog"/>.
/// </summary>
public sealed class NodeReportActor : ReceiveActor, IWithTimers
{
    /// <summary>The most rooms one report lists.</summary>
    public const int MaxTopRooms = 1000;

    private readonly TimeSpan _interval;
    private readonly LocalActivity _activity = new();
    private readonly NodeSeries _series;
    private readonly CutOffLog _cutOffs;
    private ConnectionMessages.Stats _stats = new(0, 0, new Dictionary<string, int>());

    public NodeReportActor(string node, IActorRef connections, BrokerCounters counters, TimeProvider time, NodeReportSettings settings)
    {
        _interval = settings.SampleInterval;
        _series = new NodeSeries(settings.Samples);
        _cutOffs = new CutOffLog(settings.RecentCutOffs);
        Receive<Tick>(_ => connections.Tell(ConnectionMessages.GetStats.Instance));
        Receive<ConnectionMessages.Stats>(stats =>
        {
            _stats = stats;
            _series.Add(time.GetUtcNow().ToUnixTimeMilliseconds(), stats.Connections, counters.Publishes, counters.Deliveries);
        });
        Receive<AccessEvents.Connected>(e => _activity.Connected(e.ConnectionId, e.UserId));
        Receive<AccessEvents.Authenticated>(e => _activity.Authenticated(e.ConnectionId, e.UserId));
        Receive<AccessEvents.Joined>(e => _activity.Joined(e.ConnectionId, e.Room));
        Receive<AccessEvents.Left>(e => _activity.Left(e.ConnectionId, e.Room));
        Receive<AccessEvents.Closed>(e =>
        {
            var user = _activity.Closed(e.ConnectionId);
            if (!CutOffLog.IsCutOff(e.Close)) return;
            var reason = e.Close.Reason.Length == 0 ? e.Close.Tag : e.Close.Reason;
            _cutOffs.Add(new CutOff(time.GetUtcNow().ToUnixTimeMilliseconds(), e.ConnectionId, user, e.Route, e.Close.Code, reason));
        });
        Receive<GetNodeReport>(ask => Sender.Tell(new NodeReport(
            node, _stats.Connections, _stats.Authenticated, _series.Samples(),
            _activity.Busiest(Math.Clamp(ask.TopRooms, 0, MaxTopRooms)), _activity.RoomsWithMembers,
            _cutOffs.Counts(), _cutOffs.Recent())));
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(string node, IActorRef connections, BrokerCounters counters, TimeProvider time, NodeReportSettings settings) =>
        Akka.Actor.Props.Create(() => new NodeReportActor(node, connections, counters, time, settings));

    protected override void PreStart()
    {
        Timers.StartPeriodicTimer(Tick.Instance, Tick.Instance, TimeSpan.Zero, _interval);
        foreach (var type in (Type[])[typeof(AccessEvents.Connected), typeof(AccessEvents.Authenticated), typeof(AccessEvents.Joined),
                     typeof(AccessEvents.Left), typeof(AccessEvents.Closed)])
            Context.System.EventStream.Subscribe(Self, type);
    }

    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);

    private sealed class Tick
    {
        public static readonly Tick Instance = new();
        private Tick() { }
    }
}

/// <summary>Registers the node's report actor with Akka.Hosting.</summary>
public static class NodeReportActorHostingExtensions
{
    /// <summary>
    /// Starts this node's <see cref="NodeReportActor"/> at <see cref="Contracts.Cluster.NodeReportQueries.Path"/>, reading the connection
    /// supervisor registered as <see cref="ConnectionSupervisor"/> (register it first).
    /// </summary>
    public static AkkaConfigurationBuilder AddNodeReportActor(this AkkaConfigurationBuilder akka, BrokerCounters counters, TimeProvider time,
        NodeReportSettings? settings = null) =>
        akka.WithActors((system, registry) =>
        {
            var self = Akka.Cluster.Cluster.Get(system).SelfAddress;
            system.ActorOf(NodeReportActor.Props($"{self.Host}:{self.Port}", registry.Get<ConnectionSupervisor>(), counters, time,
                settings ?? NodeReportSettings.Default), Contracts.Cluster.NodeReportQueries.Path["/user/".Length..]);
        });
}
