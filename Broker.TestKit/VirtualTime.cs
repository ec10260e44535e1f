using Akka.Actor;
using Akka.TestKit;

namespace Broker.TestKit;

/// <summary>Virtual time for actor specs: timers fire only when a test advances the clock.</summary>
public static class VirtualTime
{
    /// <summary>
    /// HOCON for a TestKit whose scheduler is the <see cref="TestScheduler"/>: every
    /// <c>IWithTimers</c> timer and scheduled tell waits for <see cref="Advance"/>, so heartbeats,
    /// auth deadlines and token expiry are tested without waiting for real seconds.
    /// </summary>
    public const string Config = """
        akka.scheduler.implementation = "Akka.TestKit.TestScheduler, Akka.TestKit"
        akka.loglevel = INFO
        """;

    /// <summary>Moves the system's virtual clock forward, firing every timer that falls due.</summary>
    public static void Advance(this ActorSystem system, TimeSpan by) => ((TestScheduler)system.Scheduler).Advance(by);
}
