using Akka.Event;
using Broker.Actors.Dispatch;
using Xunit.Abstractions;

namespace Broker.Tests.Dispatch;

/// <summary>
/// Actors running on the <see cref="SingleConsumerUnboundedMailbox"/> in an ActorSystem configured
/// the way hocon/broker.hocon configures the host: ordering, restart, stop and dead letters.
/// </summary>
public sealed class SingleConsumerMailboxSpecs : Akka.TestKit.Xunit2.TestKit
{
    private const string MailboxPath = "broker.connection-mailbox";

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private const string Config = """
        broker.connection-mailbox.mailbox-type = "Broker.Actors.Dispatch.SingleConsumerUnboundedMailbox, Broker.Actors"
        akka.loglevel = INFO
        """;

    public SingleConsumerMailboxSpecs(ITestOutputHelper output) : base(Config, output: output) { }

    private IActorRef EchoActor(TestProbe probe, ManualResetEventSlim? gate = null, string? name = null) =>
        Sys.ActorOf(Props.Create(() => new Echo(probe.Ref, gate)).WithMailbox(MailboxPath), name);

    [Fact]
    public void The_configured_path_resolves_to_the_single_consumer_mailbox()
    {
        Assert.IsType<SingleConsumerUnboundedMailbox>(Sys.Mailboxes.Lookup(MailboxPath));
    }

    [Fact]
    public void An_actor_with_the_mailbox_gets_a_single_consumer_queue()
    {
        var probe = CreateTestProbe();
        var actor = EchoActor(probe);
        // A top-level actor starts behind a placeholder cell; one round trip means the real cell is in place.
        actor.Tell("started?");
        probe.ExpectMsg("started?", Timeout);

        var cell = (ActorCell)((ActorRefWithCell)actor).Underlying;
        Assert.IsType<SingleConsumerMessageQueue>(cell.Mailbox?.MessageQueue);
    }

    [Fact]
    public void Messages_from_one_sender_arrive_in_order()
    {
        var probe = CreateTestProbe();
        var actor = EchoActor(probe);

        for (var i = 0; i < 1_000; i++) actor.Tell(i);

        for (var i = 0; i < 1_000; i++) probe.ExpectMsg(i, Timeout);
    }

    [Fact]
    public async Task Messages_from_concurrent_senders_all_arrive_each_senders_in_order()
    {
        const int senders = 4;
        const int perSender = 5_000;
        var probe = CreateTestProbe();
        var actor = EchoActor(probe);

        await Task.WhenAll(Enumerable.Range(0, senders).Select(sender => Task.Run(() =>
        {
            for (var i = 0; i < perSender; i++) actor.Tell((sender, i));
        }))).WaitAsync(Timeout);

        var next = new int[senders];
        for (var received = 0; received < senders * perSender; received++)
        {
            var (sender, sequence) = probe.ExpectMsg<(int, int)>(Timeout);
            Assert.Equal(next[sender], sequence);
            next[sender]++;
        }
        Assert.All(next, count => Assert.Equal(perSender, count));
    }

    [Fact]
    public void Messages_queued_behind_a_failure_are_handled_after_the_restart()
    {
        var probe = CreateTestProbe();
        using var gate = new ManualResetEventSlim();
        var actor = EchoActor(probe, gate);

        // Hold the actor so the failure and what follows it are all in the mailbox together.
        actor.Tell(Echo.Hold);
        probe.ExpectMsg(Echo.Holding, Timeout);
        actor.Tell(Echo.Fail);
        for (var i = 0; i < 10; i++) actor.Tell(i);
        gate.Set();

        probe.ExpectMsg(Echo.Restarted, Timeout);
        for (var i = 0; i < 10; i++) probe.ExpectMsg(i, Timeout);
    }

    [Fact]
    public void Messages_left_in_the_mailbox_when_the_actor_stops_go_to_dead_letters()
    {
        var probe = CreateTestProbe();
        var deadLetters = CreateTestProbe();
        Sys.EventStream.Subscribe(deadLetters.Ref, typeof(DeadLetter));
        using var gate = new ManualResetEventSlim();
        var actor = EchoActor(probe, gate);
        Watch(actor);

        actor.Tell(Echo.Hold);
        probe.ExpectMsg(Echo.Holding, Timeout);
        actor.Tell(PoisonPill.Instance);
        actor.Tell("left-1");
        actor.Tell("left-2");
        gate.Set();

        ExpectTerminated(actor, Timeout);
        foreach (var expected in new[] { "left-1", "left-2" })
        {
            var letter = deadLetters.ExpectMsg<DeadLetter>(Timeout);
            Assert.Equal(expected, letter.Message);
            Assert.Equal(actor, letter.Recipient);
        }
        probe.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void A_name_freed_by_a_stopped_actor_can_be_used_again_with_a_fresh_mailbox()
    {
        var probe = CreateTestProbe();
        var first = EchoActor(probe, name: "again");
        Watch(first);
        first.Tell("first");
        probe.ExpectMsg("first", Timeout);
        Sys.Stop(first);
        ExpectTerminated(first, Timeout);

        var second = EchoActor(probe, name: "again");
        second.Tell("second");

        probe.ExpectMsg("second", Timeout);
    }

    /// <summary>Echoes every message to a probe; can be held on a gate, made to fail, and reports restarts.</summary>
    private sealed class Echo : ReceiveActor
    {
        public const string Hold = "hold";
        public const string Holding = "holding";
        public const string Fail = "fail";
        public const string Restarted = "restarted";

        private readonly IActorRef _probe;

        public Echo(IActorRef probe, ManualResetEventSlim? gate)
        {
            _probe = probe;
            Receive<string>(message => message == Hold, _ =>
            {
                _probe.Tell(Holding);
                // Blocking is the point: it keeps later messages queued in this mailbox.
                if (!gate!.Wait(Timeout)) throw new TimeoutException("the spec never opened the gate");
            });
            Receive<string>(message => message == Fail, _ => throw new InvalidOperationException("failing on purpose"));
            ReceiveAny(message => _probe.Tell(message));
        }

        protected override void PostRestart(Exception reason)
        {
            base.PostRestart(reason);
            _probe.Tell(Restarted);
        }
    }
}
