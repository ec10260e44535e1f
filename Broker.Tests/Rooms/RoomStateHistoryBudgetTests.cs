using System.Text;
using Broker.Actors.Rooms;

namespace Broker.Tests.Rooms;

/// <summary>
/// History bounded by bytes: a room's own cap (<c>HistoryMaxBytes</c>) and the node's budget shared
/// by rooms (<c>HistoryNodeMaxBytes</c>), driven on <see cref="RoomState"/> without an actor system.
/// </summary>
public sealed class RoomStateHistoryBudgetTests
{
    private const string Epoch = "epoch-1";

    /// <summary>A frame of exactly <paramref name="size"/> bytes that names its offset.</summary>
    private static Func<long, byte[]> FrameOf(int size) => offset =>
    {
        var frame = new byte[size];
        Array.Fill(frame, (byte)'.');
        Encoding.ASCII.GetBytes($"m{offset}:").CopyTo(frame, 0);
        return frame;
    };

    private static string[] Names(IEnumerable<byte[]> frames) =>
        frames.Select(f => Encoding.ASCII.GetString(f).Split(':')[0]).ToArray();

    private static long[] Offsets(RoomState room) =>
        Names(room.Range(0, room.Offset).Frames).Select(n => long.Parse(n[1..])).ToArray();

    [Fact]
    public void A_room_keeps_no_more_frame_bytes_than_HistoryMaxBytes_dropping_the_oldest_first()
    {
        var room = new RoomState("lobby", Epoch, historySize: 100, historyMaxBytes: 1000);

        for (var i = 0; i < 10; i++) room.Append(FrameOf(300));

        Assert.Equal(900, room.HistoryBytes);
        Assert.Equal([8L, 9, 10], Offsets(room));
    }

    [Fact]
    public void The_newest_message_is_kept_even_when_it_alone_is_over_HistoryMaxBytes()
    {
        var room = new RoomState("lobby", Epoch, historySize: 100, historyMaxBytes: 1000);
        room.Append(FrameOf(400));
        room.Append(FrameOf(400));

        room.Append(FrameOf(1500));

        Assert.Equal([3L], Offsets(room));
        Assert.Equal(1500, room.HistoryBytes);
    }

    [Fact]
    public void A_join_since_a_message_trimmed_by_bytes_gets_what_is_left_and_is_not_recovered()
    {
        var room = new RoomState("lobby", Epoch, historySize: 100, historyMaxBytes: 1000);
        for (var i = 0; i < 6; i++) room.Append(FrameOf(300)); // keeps 4, 5, 6

        var fromTrimmed = room.Recover(Epoch, 1);
        var fromOldestKept = room.Recover(Epoch, 3);

        Assert.Equal(["m4", "m5", "m6"], Names(fromTrimmed.Missed));
        Assert.False(fromTrimmed.Recovered);
        Assert.Equal(["m4", "m5", "m6"], Names(fromOldestKept.Missed));
        Assert.True(fromOldestKept.Recovered);
    }

    [Fact]
    public void A_range_reaching_back_past_bytes_trimmed_is_served_from_the_oldest_kept_and_incomplete()
    {
        var room = new RoomState("lobby", Epoch, historySize: 100, historyMaxBytes: 1000);
        for (var i = 0; i < 6; i++) room.Append(FrameOf(300)); // keeps 4, 5, 6

        var (first, frames, complete) = room.Range(1, 5);
        var kept = room.Range(3, 6);

        Assert.Equal(4, first);
        Assert.Equal(["m4", "m5"], Names(frames));
        Assert.False(complete);
        Assert.Equal(["m4", "m5", "m6"], Names(kept.Frames));
        Assert.True(kept.Complete);
    }

    [Fact]
    public void Byte_accounting_stays_exact_through_many_periods_of_fill_and_trim()
    {
        var budget = new HistoryBudget(limitBytes: 5_000);
        var actors = Enumerable.Range(0, 3).Select(i => (IActorRef)new FakeRef($"r{i}")).ToArray();
        var rooms = actors.Select(a => new RoomState(a.Path.Name, Epoch, historySize: 7, historyMaxBytes: 2_500, budget.Open(a))).ToArray();
        var tells = 0;
        var random = new Random(15);

        for (var step = 0; step < 5_000; step++)
        {
            // Periods of small and large frames, so every bound (count, room bytes, node bytes) takes turns.
            var large = step / 250 % 2 == 1;
            var room = rooms[random.Next(rooms.Length)];
            room.Append(FrameOf(large ? random.Next(400, 1_200) : random.Next(10, 100)));
            Assert.True(budget.Excess <= 1_200, $"step {step}: {budget.Excess} bytes over after the append");
            // No actors here: each trim request is served at once by the room it names, as its actor would.
            for (var told = room.TrimToNodeBudget(appending: true); told is not null; tells++)
                told = rooms[Array.IndexOf(actors, told)].TrimToNodeBudget(appending: false);

            var held = rooms.Sum(r => r.Range(0, r.Offset).Frames.Sum(f => (long)f.Length));
            Assert.Equal(held, rooms.Sum(r => r.HistoryBytes));
            Assert.Equal(held, budget.Bytes);
            Assert.True(budget.Bytes <= budget.LimitBytes, $"step {step}: {budget.Bytes} bytes over the budget of {budget.LimitBytes}");
            foreach (var r in rooms)
            {
                Assert.True(r.HistoryCount <= 7);
                Assert.True(r.HistoryBytes <= 2_500 || r.HistoryCount == 1);
                // Whatever is left is consecutive and ends at the room's offset.
                var offsets = Offsets(r);
                if (offsets.Length > 0) Assert.Equal(Enumerable.Range(0, offsets.Length).Select(k => r.Offset - offsets.Length + 1 + k), offsets);
            }
        }

        Assert.True(tells > 100, $"only {tells} trim requests: the node budget was hardly exercised");
        foreach (var room in rooms) room.ReleaseHistory();
        Assert.Equal(0, budget.Bytes);
    }

    [Fact]
    public void No_room_loses_history_while_the_node_is_within_its_budget()
    {
        var budget = new HistoryBudget(limitBytes: 10_000);
        var a = new RoomState("a", Epoch, 100, 100_000, budget.Open(ActorRefs.Nobody));
        var b = new RoomState("b", Epoch, 100, 100_000, budget.Open(ActorRefs.Nobody));

        for (var i = 0; i < 10; i++)
        {
            a.Append(FrameOf(500));
            Assert.Null(a.TrimToNodeBudget(appending: true));
            b.Append(FrameOf(500));
            Assert.Null(b.TrimToNodeBudget(appending: true));
        }

        Assert.Equal(10_000, budget.Bytes);
        Assert.Equal(10, a.HistoryCount);
        Assert.Equal(10, b.HistoryCount);
    }

    [Fact]
    public void Over_the_node_budget_the_oldest_entries_on_the_node_go_first_and_their_room_is_named()
    {
        var budget = new HistoryBudget(limitBytes: 3_000);
        var oldRef = new FakeRef("old");
        var old = new RoomState("old", Epoch, 100, 100_000, budget.Open(oldRef));
        var busy = new RoomState("busy", Epoch, 100, 100_000, budget.Open(new FakeRef("busy")));
        for (var i = 0; i < 4; i++) old.Append(FrameOf(500)); // 2,000 bytes, the node's oldest
        for (var i = 0; i < 2; i++) busy.Append(FrameOf(500)); // 3,000: at the budget

        busy.Append(FrameOf(500));
        var told = busy.TrimToNodeBudget(appending: true);

        // The appending room's entries are newer than the old room's: it keeps them and names the old room.
        Assert.Same(oldRef, told);
        Assert.Equal(3, busy.HistoryCount);
        Assert.Equal(3_500, budget.Bytes);

        Assert.Null(old.TrimToNodeBudget(appending: false));
        Assert.Equal(3, old.HistoryCount);
        Assert.Equal([2L, 3, 4], Offsets(old));
        Assert.Equal(3_000, budget.Bytes);
    }

    [Fact]
    public void An_appending_room_that_holds_the_node_s_oldest_entries_trims_them_itself()
    {
        var budget = new HistoryBudget(limitBytes: 3_000);
        var first = new RoomState("first", Epoch, 100, 100_000, budget.Open(new FakeRef("first")));
        var second = new RoomState("second", Epoch, 100, 100_000, budget.Open(new FakeRef("second")));
        for (var i = 0; i < 3; i++) first.Append(FrameOf(500));
        for (var i = 0; i < 3; i++) second.Append(FrameOf(500));

        first.Append(FrameOf(1_000));

        Assert.Null(first.TrimToNodeBudget(appending: true));
        Assert.Equal([3L, 4], Offsets(first));
        Assert.Equal(3, second.HistoryCount);
        Assert.Equal(3_000, budget.Bytes);
    }

    [Fact]
    public void An_appending_room_never_leaves_the_node_over_by_more_than_its_newest_message_however_slow_the_others()
    {
        var budget = new HistoryBudget(limitBytes: 3_000);
        var stale = new RoomState("stale", Epoch, 100, 100_000, budget.Open(new FakeRef("stale")));
        var busy = new RoomState("busy", Epoch, 100, 100_000, budget.Open(new FakeRef("busy")));
        for (var i = 0; i < 6; i++) stale.Append(FrameOf(500)); // the whole budget, never trimmed: its actor is slow

        for (var i = 0; i < 50; i++)
        {
            busy.Append(FrameOf(400));
            Assert.NotNull(busy.TrimToNodeBudget(appending: true));
            Assert.True(budget.Excess <= 400, $"publish {i}: {budget.Excess} bytes over");
        }
        Assert.Equal(1, busy.HistoryCount);
        Assert.Equal(50, busy.Offset);
    }

    [Fact]
    public void A_stopped_room_gives_its_bytes_back_to_the_node()
    {
        var budget = new HistoryBudget(limitBytes: 10_000);
        var room = new RoomState("lobby", Epoch, 100, 100_000, budget.Open(ActorRefs.Nobody));
        for (var i = 0; i < 4; i++) room.Append(FrameOf(250));
        Assert.Equal(1_000, budget.Bytes);

        room.ReleaseHistory();
        room.ReleaseHistory();

        Assert.Equal(0, budget.Bytes);
    }

    [Fact]
    public void A_node_budget_of_zero_is_a_share_of_the_memory_available_to_the_process()
    {
        var budget = new HistoryBudget(0);

        Assert.Equal(HistoryBudget.DefaultLimit(), budget.LimitBytes);
        Assert.True(budget.LimitBytes >= 1 << 20, $"{budget.LimitBytes} bytes");
        Assert.Equal(12_345, new HistoryBudget(12_345).LimitBytes);
    }

    /// <summary>An actor ref that is only an identity: the state names rooms, it never sends to them.</summary>
    private sealed class FakeRef(string name) : MinimalActorRef
    {
        public override ActorPath Path { get; } = new RootActorPath(Address.AllSystems) / name;
        public override IActorRefProvider Provider => throw new NotSupportedException();
    }
}
