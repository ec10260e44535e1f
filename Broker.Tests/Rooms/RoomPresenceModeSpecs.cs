using Broker.Actors.Rooms;
using static Broker.Contracts.Cluster.RoomCommands;
using static Broker.Contracts.Cluster.RoomEvents;

namespace Broker.Tests.Rooms;

/// <summary>
/// A <see cref="RoomActor"/>'s presence modes (PROTOCOL §9.3) on virtual time: what <c>joined</c>
/// carries, what the other members get per mode, the switch of a full room at its threshold both
/// ways, and <c>occupancy</c> coalesced to one per second however fast members come and go.
/// </summary>
public sealed class RoomPresenceModeSpecs() : Akka.TestKit.Xunit2.TestKit(VirtualTime.Config)
{
    private const string RoomId = "modes";
    private static readonly TimeSpan Second = TimeSpan.FromSeconds(1);

    private IActorRef NewRoom(PresenceMode mode, int maxPresenceMembers = 1000) =>
        Sys.ActorOf(RoomActor.Props(RoomId, new RoomSettings(100, TimeSpan.FromMinutes(5))
        {
            Presence = mode,
            MaxPresenceMembers = maxPresenceMembers,
        }));

    private static void Join(IActorRef room, TestProbe hub, string connectionId, string userId) =>
        room.Tell(new JoinRoom(RoomId, connectionId, userId, hub.Ref, hub.Ref, "j-" + connectionId, null, null), hub.Ref);

    private static void Leave(IActorRef room, TestProbe hub, string connectionId) =>
        room.Tell(new LeaveRoom(RoomId, connectionId, null, Reply: false), hub.Ref);

    /// <summary>Waits until the room has handled everything sent so far (its answer follows what it sent before).</summary>
    private int Settle(IActorRef room)
    {
        var asker = CreateTestProbe();
        room.Tell(new GetRoomInfo(RoomId), asker.Ref);
        return asker.ExpectMsg<RoomInfo>().Count;
    }

    /// <summary>What the hub received, in order: joined frames (of join results) and broadcast frames.</summary>
    private static List<JsonElement> Received(TestProbe hub)
    {
        var frames = new List<JsonElement>();
        while (hub.HasMessages)
        {
            switch (hub.ReceiveOne(TimeSpan.Zero))
            {
                case JoinResult result: frames.Add(Frame.Parse(result.Frames[^1])); break;
                case RoomBroadcast broadcast: frames.Add(Frame.Parse(broadcast.Frame)); break;
            }
        }
        return frames;
    }

    private static List<JsonElement> OfType(IEnumerable<JsonElement> frames, string type) => frames.Where(f => f.Type() == type).ToList();

    [Fact]
    public void Counts_room_answers_joined_with_the_count_and_no_members_and_sends_no_presence()
    {
        var hub = CreateTestProbe();
        var room = NewRoom(PresenceMode.Counts);
        Join(room, hub, "c1", "alice");
        Join(room, hub, "c2", "bob");
        Join(room, hub, "c3", "bob"); // a second connection of bob: users, not connections, are counted
        Settle(room);
        var frames = Received(hub);

        var joined = OfType(frames, "joined");
        Assert.Equal([1L, 2L, 2L], joined.Select(j => j.Data().Long("count")));
        Assert.All(joined, j => Assert.False(j.Data().TryGetProperty("members", out _)));
        Assert.Empty(OfType(frames, "presence"));
        // The first change went out at once; the second waits for the interval's end.
        Assert.Equal([1L], OfType(frames, "occupancy").Select(o => o.Data().Long("count")));
        Sys.Advance(Second);
        Settle(room);
        Assert.Equal([2L], OfType(Received(hub), "occupancy").Select(o => o.Data().Long("count")));
    }

    [Fact]
    public void Full_room_lists_members_and_counts_users_in_joined()
    {
        var hub = CreateTestProbe();
        var room = NewRoom(PresenceMode.Full);
        Join(room, hub, "c1", "alice");
        Join(room, hub, "c2", "bob");
        Join(room, hub, "c3", "bob");
        Settle(room);
        var frames = Received(hub);
        var last = OfType(frames, "joined")[^1].Data();
        Assert.Equal(["alice", "bob"], last.Strings("members").Order());
        Assert.Equal(2, last.Long("count"));
        Assert.Equal(["alice", "bob"], OfType(frames, "presence").Select(p => p.Data().Str("user")));
        Assert.Empty(OfType(frames, "occupancy"));
    }

    [Fact]
    public void Occupancy_is_coalesced_to_one_per_second_over_many_seconds_of_joins_and_leaves_and_ends_exact()
    {
        var hub = CreateTestProbe();
        var room = NewRoom(PresenceMode.Counts);
        var present = new HashSet<string>();
        var announced = new List<(DateTimeOffset At, long Count)>();
        var random = new Random(18);
        var next = 0;
        void Collect()
        {
            foreach (var o in OfType(Received(hub), "occupancy")) announced.Add((Sys.Scheduler.Now, o.Data().Long("count")));
        }

        // 30 seconds in 100 ms steps, a few joins and leaves in each.
        for (var step = 0; step < 300; step++)
        {
            for (var k = 0; k < 5; k++)
            {
                if (present.Count > 0 && random.Next(3) == 0)
                {
                    var gone = present.ElementAt(random.Next(present.Count));
                    present.Remove(gone);
                    Leave(room, hub, gone);
                }
                else
                {
                    var connection = $"c{next++}";
                    present.Add(connection);
                    Join(room, hub, connection, "u" + connection);
                }
            }
            Settle(room);
            Collect();
            Sys.Advance(TimeSpan.FromMilliseconds(100));
        }
        Settle(room);
        Collect();
        Sys.Advance(Second);
        Settle(room);
        Collect();

        Assert.InRange(announced.Count, 25, 32); // about one a second, never more
        for (var i = 1; i < announced.Count; i++)
            Assert.True(announced[i].At - announced[i - 1].At >= Second, $"occupancy {i} came {announced[i].At - announced[i - 1].At} after the one before");
        Assert.Equal(present.Count, announced[^1].Count);
        Assert.Equal(present.Count, Settle(room));

        // Quiet now: no timer keeps announcing the same count.
        Sys.Advance(TimeSpan.FromSeconds(5));
        Settle(room);
        Assert.Empty(OfType(Received(hub), "occupancy"));
    }

    [Fact]
    public void Off_room_sends_members_nothing_but_the_count_in_joined()
    {
        var hub = CreateTestProbe();
        var room = NewRoom(PresenceMode.Off);
        var frames = new List<JsonElement>();
        for (var second = 0; second < 10; second++)
        {
            for (var i = 0; i < 20; i++)
            {
                Join(room, hub, $"c{second}-{i}", $"u{second}-{i}");
                if (i % 2 == 0) Leave(room, hub, $"c{second}-{i}");
            }
            Settle(room);
            frames.AddRange(Received(hub));
            Sys.Advance(Second);
        }
        Settle(room);
        frames.AddRange(Received(hub));

        Assert.All(frames, f => Assert.Equal("joined", f.Type()));
        Assert.Equal(200, frames.Count);
        Assert.All(frames, f => Assert.False(f.Data().TryGetProperty("members", out _)));
        Assert.Equal(100, frames[^1].Data().Long("count")); // 10 of each second's 20 stayed
    }

    [Fact]
    public void Full_room_behaves_as_counts_above_the_threshold_and_as_full_again_below_it()
    {
        var hub = CreateTestProbe();
        var room = NewRoom(PresenceMode.Full, maxPresenceMembers: 3);
        for (var i = 1; i <= 3; i++) Join(room, hub, $"c{i}", $"u{i}");
        Settle(room);
        var frames = Received(hub);
        Assert.Equal(["u1", "u2", "u3"], OfType(frames, "joined")[^1].Data().Strings("members").Order());
        Assert.Equal(3, OfType(frames, "presence").Count);
        Assert.Empty(OfType(frames, "occupancy"));

        // The fourth user takes it past the threshold: its joined has the count only, the others a count.
        Join(room, hub, "c4", "u4");
        Settle(room);
        frames = Received(hub);
        var joined = Assert.Single(OfType(frames, "joined")).Data();
        Assert.False(joined.TryGetProperty("members", out _));
        Assert.Equal(4, joined.Long("count"));
        Assert.Empty(OfType(frames, "presence"));
        Assert.Equal([4L], OfType(frames, "occupancy").Select(o => o.Data().Long("count")));

        // Still counts while above, and at, the threshold: coalesced, no presence.
        Join(room, hub, "c5", "u5");
        Leave(room, hub, "c5");
        Leave(room, hub, "c4");
        Settle(room);
        frames = Received(hub);
        Assert.Empty(OfType(frames, "presence"));
        Assert.Empty(OfType(frames, "occupancy")); // held for the interval's end
        Sys.Advance(Second);
        Settle(room);
        Assert.Equal([3L], OfType(Received(hub), "occupancy").Select(o => o.Data().Long("count")));
        Join(room, hub, "c6", "u6");
        Settle(room);
        Assert.False(OfType(Received(hub), "joined")[^1].Data().TryGetProperty("members", out _)); // 4 again: counts

        // Below the threshold again: a count tells the members where it stands, then presence resumes.
        Leave(room, hub, "c6");
        Leave(room, hub, "c3");
        Sys.Advance(Second);
        Settle(room);
        frames = Received(hub);
        Assert.Empty(OfType(frames, "presence"));
        Assert.Equal(2L, OfType(frames, "occupancy")[^1].Data().Long("count"));
        Sys.Advance(Second);
        Join(room, hub, "c7", "u7");
        Settle(room);
        frames = Received(hub);
        Assert.Equal(["u1", "u2", "u7"], OfType(frames, "joined")[^1].Data().Strings("members").Order());
        Assert.Equal(3, OfType(frames, "joined")[^1].Data().Long("count"));
        Assert.Equal(["u7"], OfType(frames, "presence").Select(p => p.Data().Str("user")));
    }

    [Fact]
    public void Member_pages_walk_every_user_once_in_ordinal_order_with_a_count()
    {
        var hub = CreateTestProbe();
        var room = NewRoom(PresenceMode.Counts);
        var users = Enumerable.Range(0, 250).Select(i => $"user-{i:D3}").ToArray();
        foreach (var user in users) Join(room, hub, "c-" + user, user);
        Join(room, hub, "c-extra", users[7]); // a second connection is not a second member
        var seen = new List<string>();
        string? after = null;
        var pages = 0;
        do
        {
            room.Tell(new GetRoomInfo(RoomId, 100, after));
            var page = ExpectMsg<RoomInfo>();
            Assert.Equal(250, page.Count);
            Assert.InRange(page.Members.Length, 1, 100);
            seen.AddRange(page.Members);
            after = page.Next;
            pages++;
        } while (after is not null);
        Assert.Equal(3, pages);
        Assert.Equal(users, seen); // ordinal order, each exactly once
    }
}
