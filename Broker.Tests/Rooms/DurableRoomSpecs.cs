using Akka.Configuration;
using Akka.Persistence;
using Akka.Persistence.TestKit;
using Broker.Actors.Rooms;
using static Broker.Contracts.Cluster.RoomCommands;
using static Broker.Contracts.Cluster.RoomEvents;

namespace Broker.Tests.Rooms;

/// <summary>
/// A durable <see cref="RoomActor"/> over Akka.Persistence.TestKit's journal, whose writes and
/// recoveries the specs make fail: an ack only ever follows a write, a failed write is refused
/// with <c>unavailable</c> and never broadcast, and the room recovers by itself.
/// </summary>
public sealed class DurableRoomSpecs() : Akka.TestKit.Xunit2.TestKit(TestJournalConfig)
{
    private static readonly Config TestJournalConfig = ConfigurationFactory.ParseString("""
        akka.persistence.journal.plugin = "akka.persistence.journal.test"
        akka.persistence.journal.test.class = "Akka.Persistence.TestKit.TestJournal, Akka.Persistence.TestKit"
        akka.persistence.journal.test.plugin-dispatcher = "akka.actor.default-dispatcher"
        akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.test"
        akka.persistence.snapshot-store.test.class = "Akka.Persistence.TestKit.TestSnapshotStore, Akka.Persistence.TestKit"
        akka.persistence.snapshot-store.test.plugin-dispatcher = "akka.actor.default-dispatcher"
        """);

    private static readonly RoomSettings Durable = new(HistorySize: 100, IdleTimeout: TimeSpan.FromMinutes(5)) { Durable = true, SnapshotEvery = 5 };

    private ITestJournal Journal => TestJournal.FromRef(Persistence.Instance.Apply(Sys).JournalFor(null));

    private IActorRef StartRoom(string roomId, RoomSettings? settings = null) => Sys.ActorOf(RoomActor.Props(roomId, settings ?? Durable));

    private object Publish(IActorRef room, string roomId, int n, string? key = null)
    {
        var publisher = CreateTestProbe();
        room.Tell(new PublishToRoom(roomId, null, "server", Frame.Json("{\"n\":" + n + "}"), false, "p" + n, IdempotencyKey: key), publisher.Ref);
        return publisher.ExpectMsg<object>(m => m is PublishAccepted or PublishRejected, TimeSpan.FromSeconds(10));
    }

    private static JsonElement Data(byte[] frame) => Frame.Parse(frame).GetProperty("data");

    private (JoinResult Result, TestProbe Hub) Join(IActorRef room, string roomId, string? epoch = null, long? since = null)
    {
        var hub = CreateTestProbe();
        room.Tell(new JoinRoom(roomId, "c-" + Guid.NewGuid().ToString("N"), "u", CreateTestProbe().Ref, hub.Ref, "j", epoch, since), hub.Ref);
        return ((JoinResult)hub.FishForMessage(m => m is JoinResult, TimeSpan.FromSeconds(10)), hub);
    }

    private void Restart(ref IActorRef room, string roomId)
    {
        Watch(room);
        room.Tell(PoisonPill.Instance);
        ExpectTerminated(room);
        room = StartRoom(roomId);
    }

    [Fact]
    public void A_durable_room_keeps_its_epoch_and_history_when_it_stops_and_starts_again()
    {
        var room = StartRoom("keep");
        var first = (PublishAccepted)Publish(room, "keep", 1);
        Publish(room, "keep", 2);
        Publish(room, "keep", 3);

        Restart(ref room, "keep");

        var (join, _) = Join(room, "keep", first.Epoch, 1);
        Assert.Equal(first.Epoch, join.Epoch);
        Assert.Equal(3, join.Offset);
        Assert.Equal([2, 3], join.Frames[..^1].Select(f => Data(f).GetProperty("payload").GetProperty("n").GetInt32()));
        Assert.True(Data(join.Frames[^1]).GetProperty("recovered").GetBoolean());
        Assert.Equal(4, ((PublishAccepted)Publish(room, "keep", 4)).Offset);
    }

    [Fact]
    public void A_room_never_published_to_keeps_the_epoch_its_first_joiner_saw()
    {
        var room = StartRoom("quiet");
        var (before, _) = Join(room, "quiet");
        Restart(ref room, "quiet");
        var (after, _) = Join(room, "quiet", before.Epoch, 0);
        Assert.Equal(before.Epoch, after.Epoch);
        Assert.True(Data(after.Frames[^1]).GetProperty("recovered").GetBoolean());
    }

    [Fact]
    public async Task A_failed_write_is_refused_unavailable_never_broadcast_and_the_room_accepts_again_once_the_journal_is_back()
    {
        var room = StartRoom("flaky");
        var (_, hub) = Join(room, "flaky");
        Assert.IsType<PublishAccepted>(Publish(room, "flaky", 1));
        hub.FishForMessage(m => m is RoomBroadcast { Offset: 1 });

        await Journal.OnWrite.Fail();
        var refused = Assert.IsType<PublishRejected>(Publish(room, "flaky", 2));
        Assert.Equal("unavailable", refused.Code);
        // While the journal is down the room answers at once, and never with an ack.
        Assert.Equal("unavailable", Assert.IsType<PublishRejected>(Publish(room, "flaky", 3)).Code);
        hub.ExpectNoMsg(TimeSpan.FromMilliseconds(300));

        await Journal.OnWrite.Pass();
        var accepted = AwaitAccepted(room, "flaky", 4);
        // Nothing refused took an offset: the stream goes on from 2, and members got it.
        Assert.Equal(2, accepted.Offset);
        var broadcast = (RoomBroadcast)hub.FishForMessage(m => m is RoomBroadcast { Offset: > 0 });
        Assert.Equal(2, broadcast.Offset);
        Assert.Equal(4, Data(broadcast.Frame).GetProperty("payload").GetProperty("n").GetInt32());
    }

    [Fact]
    public async Task A_room_that_cannot_recover_refuses_joins_and_publishes_until_its_journal_answers()
    {
        var room = StartRoom("down");
        Assert.IsType<PublishAccepted>(Publish(room, "down", 1));
        // The journal's interceptor fails a recovery that replays events: there is one.
        await Journal.OnRecovery.Fail();
        Restart(ref room, "down");
        var hub = CreateTestProbe();
        room.Tell(new JoinRoom("down", "c1", "u", CreateTestProbe().Ref, hub.Ref, "j1", null, null, Seq: 7));
        var rejected = hub.ExpectMsg<JoinRejected>(TimeSpan.FromSeconds(10));
        Assert.Equal(("unavailable", 7L, "j1"), (rejected.Code, rejected.Seq, rejected.RequestId));
        Assert.Equal("unavailable", Assert.IsType<PublishRejected>(Publish(room, "down", 2)).Code);

        await Journal.OnRecovery.Pass();
        var joined = AwaitCondition(room);
        Assert.Equal(1, joined.Offset);
    }

    [Fact]
    public void A_publish_repeated_with_its_key_gets_the_first_ack_and_is_broadcast_once_even_after_a_restart()
    {
        var room = StartRoom("once");
        var (_, hub) = Join(room, "once");
        var first = (PublishAccepted)Publish(room, "once", 1, key: "k1");
        var again = (PublishAccepted)Publish(room, "once", 1, key: "k1");
        Assert.Equal((first.Offset, first.Epoch), (again.Offset, again.Epoch));
        hub.FishForMessage(m => m is RoomBroadcast { Offset: 1 });
        hub.ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        Restart(ref room, "once");
        var afterRestart = (PublishAccepted)Publish(room, "once", 1, key: "k1");
        Assert.Equal((first.Offset, first.Epoch), (afterRestart.Offset, afterRestart.Epoch));
        Assert.Equal(2, ((PublishAccepted)Publish(room, "once", 2, key: "k2")).Offset);
    }

    [Fact]
    public void Recovery_after_many_snapshots_has_the_whole_window_and_the_keys()
    {
        var settings = Durable with { HistorySize = 8, SnapshotEvery = 3 };
        var room = StartRoom("snap", settings);
        string epoch = "";
        for (var n = 1; n <= 20; n++) epoch = ((PublishAccepted)Publish(room, "snap", n, key: "k" + n)).Epoch;

        Watch(room);
        room.Tell(PoisonPill.Instance);
        ExpectTerminated(room);
        room = StartRoom("snap", settings);

        var (join, _) = Join(room, "snap", epoch, 12);
        Assert.Equal(20, join.Offset);
        Assert.Equal(Enumerable.Range(13, 8), join.Frames[..^1].Select(f => Data(f).GetProperty("payload").GetProperty("n").GetInt32()));
        Assert.True(Data(join.Frames[^1]).GetProperty("recovered").GetBoolean());
        Assert.Equal(15, ((PublishAccepted)Publish(room, "snap", 15, key: "k15")).Offset);
        Assert.Equal(21, ((PublishAccepted)Publish(room, "snap", 21, key: "k21")).Offset);
    }

    [Fact]
    public async Task Publishes_that_come_while_a_write_is_in_flight_are_written_as_one_event_acked_in_order_and_recovered_whole()
    {
        var settings = Durable with { HistorySize = 100, SnapshotEvery = 7 };
        var room = StartRoom("batch", settings);
        var epoch = ((PublishAccepted)Publish(room, "batch", 1)).Epoch;

        // A slow store: while the next write is in flight, the other 59 publishes queue behind it.
        await Journal.OnWrite.PassWithDelay(TimeSpan.FromMilliseconds(300));
        var publisher = CreateTestProbe();
        for (var n = 2; n <= 61; n++)
            room.Tell(new PublishToRoom("batch", null, "server", Frame.Json("{\"n\":" + n + "}"), false, "p" + n, IdempotencyKey: "k" + n), publisher.Ref);
        for (var n = 2; n <= 61; n++)
        {
            var accepted = publisher.ExpectMsg<PublishAccepted>(TimeSpan.FromSeconds(10));
            Assert.Equal(("p" + n, (long)n, epoch), (accepted.RequestId, accepted.Offset, accepted.Epoch));
        }
        await Journal.OnWrite.Pass();

        Watch(room);
        room.Tell(PoisonPill.Instance);
        ExpectTerminated(room);

        // What the journal holds: the room's epoch, publish 1, publish 2 alone, then one event for
        // the 59 that queued (a snapshot may have cut the stream in between, never a batch).
        var parent = CreateTestProbe();
        var journal = parent.ChildActorOf(RoomJournal.Props("batch", settings, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
        var recovered = parent.ExpectMsg<RoomJournal.Recovered>(TimeSpan.FromSeconds(10));
        Assert.Equal((epoch, 61L), (recovered.Epoch, recovered.Offset));
        Assert.InRange(recovered.SequenceNr, 4, 5);
        Assert.Equal(Enumerable.Range(1, 61).Select(n => (long)n), recovered.History.Select(m => m.Offset));
        Assert.Equal(Enumerable.Range(2, 60).Select(n => "k" + n), recovered.Keys.Select(k => k.Key));
        Watch(journal);
        Sys.Stop(journal);
        ExpectTerminated(journal);

        room = StartRoom("batch", settings);
        var (join, _) = Join(room, "batch", epoch, 0);
        Assert.Equal(61, join.Offset);
        Assert.Equal(Enumerable.Range(1, 61), join.Frames[..^1].Select(f => Data(f).GetProperty("payload").GetProperty("n").GetInt32()));
        Assert.True(Data(join.Frames[^1]).GetProperty("recovered").GetBoolean());
        // A key from inside the batch is still known after the restart.
        Assert.Equal(30, ((PublishAccepted)Publish(room, "batch", 30, key: "k30")).Offset);
        Assert.Equal(62, ((PublishAccepted)Publish(room, "batch", 62, key: "k62")).Offset);
    }

    /// <summary>Publishes until the room takes one (it restarts its journal after a backoff).</summary>
    private PublishAccepted AwaitAccepted(IActorRef room, string roomId, int n)
    {
        PublishAccepted? accepted = null;
        AwaitAssert(() =>
        {
            accepted = Publish(room, roomId, n) as PublishAccepted;
            Assert.NotNull(accepted);
        }, TimeSpan.FromSeconds(15), TimeSpan.FromMilliseconds(100));
        return accepted!;
    }

    /// <summary>Joins until the room takes the join.</summary>
    private JoinResult AwaitCondition(IActorRef room)
    {
        JoinResult? joined = null;
        AwaitAssert(() =>
        {
            var hub = CreateTestProbe();
            room.Tell(new JoinRoom("down", "c-" + Guid.NewGuid().ToString("N"), "u", CreateTestProbe().Ref, hub.Ref, "j", null, null), hub.Ref);
            joined = hub.ExpectMsg<object>(TimeSpan.FromSeconds(5)) as JoinResult;
            Assert.NotNull(joined);
        }, TimeSpan.FromSeconds(15), TimeSpan.FromMilliseconds(100));
        return joined!;
    }
}
