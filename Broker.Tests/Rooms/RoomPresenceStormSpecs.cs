using Broker.Actors.Rooms;
using static Broker.Contracts.Cluster.RoomCommands;
using static Broker.Contracts.Cluster.RoomEvents;

namespace Broker.Tests.Rooms;

/// <summary>
/// A <see cref="RoomActor"/> under a presence storm, on virtual time: its hubs get at most the
/// burst of <c>presence</c> frames per window, churn that cancels out is never announced, and a
/// flood of real changes becomes one <c>occupancy</c> count.
/// </summary>
public sealed class RoomPresenceStormSpecs() : Akka.TestKit.Xunit2.TestKit(VirtualTime.Config)
{
    private const string RoomId = "storm";
    private const int Burst = 3;
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(1);

    private IActorRef NewRoom() =>
        Sys.ActorOf(RoomActor.Props(RoomId, new RoomSettings(100, TimeSpan.FromMinutes(5), PresenceWindow: Window, PresenceBurst: Burst)));

    private static void Join(IActorRef room, TestProbe hub, string connectionId, string userId) =>
        room.Tell(new JoinRoom(RoomId, connectionId, userId, hub.Ref, hub.Ref, null, null, null), hub.Ref);

    private static void Leave(IActorRef room, TestProbe hub, string connectionId) =>
        room.Tell(new LeaveRoom(RoomId, connectionId, null, Reply: false), hub.Ref);

    /// <summary>The frames the hub received, skipping the room's answers to the joins.</summary>
    private static List<(string Type, string? Event, string? User, int? Count)> Frames(TestProbe hub)
    {
        var frames = new List<(string, string?, string?, int?)>();
        while (hub.HasMessages)
        {
            if (hub.ReceiveOne(TimeSpan.Zero) is not RoomBroadcast broadcast) continue;
            var frame = Frame.Parse(broadcast.Frame);
            var data = frame.Data();
            frames.Add(frame.Type() == "presence"
                ? ("presence", data.Str("event"), data.Str("user"), null)
                : (frame.Type()!, null, null, (int)data.Long("count")));
        }
        return frames;
    }

    /// <summary>
    /// Waits until the room has handled everything sent so far: its answer to a query goes out after
    /// whatever it sent the hub before, and local sends are enqueued at once.
    /// </summary>
    private void Settle(IActorRef room, TestProbe hub)
    {
        var asker = CreateTestProbe();
        room.Tell(new GetRoomInfo(RoomId), asker.Ref);
        asker.ExpectMsg<RoomInfo>();
    }

    [Fact]
    public void Churn_past_the_burst_is_coalesced_and_what_cancels_out_is_never_announced_over_many_windows()
    {
        var hub = CreateTestProbe();
        var room = NewRoom();
        Join(room, hub, "watcher-c", "watcher");
        Settle(room, hub);
        Assert.Single(Frames(hub)); // the watcher's own join (its hub excludes the watcher from it)

        // What a member that follows presence believes is in the room (besides itself).
        var view = new HashSet<string>();
        for (var window = 0; window < 20; window++)
        {
            // 50 users each join and leave inside the window: 100 changes, none of which lasts.
            for (var i = 0; i < 50; i++)
            {
                Join(room, hub, $"c{window}-{i}", $"u{i}");
                Leave(room, hub, $"c{window}-{i}");
            }
            Settle(room, hub);
            var during = Frames(hub);
            Sys.Advance(Window);
            Settle(room, hub);
            var atEnd = Frames(hub);

            Assert.InRange(during.Count, 1, Burst);
            // Only the leaves of users whose joins went out in the burst: the rest cancelled out.
            Assert.InRange(atEnd.Count, 0, Burst);
            foreach (var (_, @event, user, _) in during.Concat(atEnd))
                if (@event == "join") Assert.True(view.Add(user!));
                else Assert.True(view.Remove(user!));
            Assert.Empty(view); // the window's end leaves every follower with the room as it is
        }
    }

    [Fact]
    public void Real_changes_past_the_burst_are_announced_at_the_window_end_or_counted_when_too_many()
    {
        var hub = CreateTestProbe();
        var room = NewRoom();
        Join(room, hub, "watcher-c", "watcher");
        Join(room, hub, "a-c", "a");
        Join(room, hub, "b-c", "b");
        Join(room, hub, "c-c", "c"); // held: the burst (3) is used up
        Join(room, hub, "d-c", "d"); // held
        Settle(room, hub);
        Assert.Equal(["watcher", "a", "b"], Frames(hub).Select(f => f.User));

        Sys.Advance(Window);
        Settle(room, hub);
        Assert.Equal([("presence", "join", "c", (int?)null), ("presence", "join", "d", null)], Frames(hub));

        // A flood of lasting joins: more than the burst are real, so one count replaces them.
        for (var i = 0; i < 20; i++) Join(room, hub, $"f{i}-c", $"f{i}");
        Settle(room, hub);
        Assert.Single(Frames(hub)); // the window opened by c and d's announcement had room for one more
        Sys.Advance(Window);
        Settle(room, hub);
        Assert.Equal([("occupancy", (string?)null, (string?)null, (int?)25)], Frames(hub));

        // Quiet windows close: the next change is announced at once again.
        Sys.Advance(Window);
        Sys.Advance(Window);
        Settle(room, hub);
        Assert.Empty(Frames(hub));
        Leave(room, hub, "a-c");
        Settle(room, hub);
        Assert.Equal([("presence", "leave", "a", (int?)null)], Frames(hub));
    }
}
