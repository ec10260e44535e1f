using System.Text;
using Broker.Actors.Connections;
using Broker.Actors.Rooms;
using Broker.Contracts.Protocol;
using static Broker.Contracts.Cluster.RoomCommands;
using static Broker.Contracts.Cluster.RoomEvents;

namespace Broker.Tests.Rooms;

/// <summary>
/// The <see cref="RoomHub"/> splitting large broadcasts over its fan-out lanes (threshold set low,
/// four lanes whatever the machine) with a stand-in room that numbers publishes as the real one
/// does, and sockets that record what was queued on them, from which thread, and whether two
/// threads ever wrote to one socket at once.
/// </summary>
public sealed class ParallelFanOutSpecs : Akka.TestKit.Xunit2.TestKit
{
    private const string RoomId = "big";
    private const int Threshold = 8;
    private const int Lanes = 4;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private readonly IActorRef _room;
    private readonly IActorRef _hub;

    public ParallelFanOutSpecs()
    {
        _room = Sys.ActorOf(Props.Create(() => new NumberingRoom()), "room");
        _hub = Sys.ActorOf(RoomHub.Props(_room, parallelFanOutThreshold: Threshold, fanOutLanes: Lanes), "room-hub");
    }

    [Fact]
    public async Task Every_member_sees_one_order_of_consecutive_offsets_under_concurrent_publishers_while_members_join_leave_and_drop()
    {
        const int initial = 300, publishers = 4, perPublisher = 150, churners = 60;
        var members = new List<Member>();
        for (var i = 0; i < initial; i++) members.Add(Join($"m{i}"));
        await AllJoinedAsync(members);

        // Publishers from four threads at once, at most ~40 broadcasts ahead of a member that stays
        // (so the broadcasts are still being written when the churn comes), while a fifth thread
        // joins, leaves and drops members.
        var anchor = members[1];
        Task Delivered(long offset) => Eventually.TrueAsync(() => anchor.Socket.LastOffset >= offset, Wait, $"the anchor has offset {offset}");
        var publisher = CreateTestProbe();
        var publishing = Enumerable.Range(0, publishers).Select(p => Task.Run(async () =>
        {
            for (var s = 1; s <= perPublisher; s++)
            {
                _hub.Tell(new PublishToRoom(RoomId, null, "pub", Encoding.UTF8.GetBytes($"{{\"p\":{p},\"s\":{s}}}"), false, $"{p}-{s}"), publisher.Ref);
                if (s % 10 == 0) await Delivered((s - 10) * publishers);
            }
        })).ToArray();
        var churn = Task.Run(async () =>
        {
            for (var i = 0; i < churners; i++)
            {
                await Delivered(i * 8);
                lock (members) members.Add(Join($"late{i}"));
                var victim = members[i * 3];
                if (i % 2 == 0) _hub.Tell(new LeaveRoom(RoomId, victim.ConnectionId, "leave-" + victim.ConnectionId, Reply: true), victim.Connection);
                else Sys.Stop(victim.Connection); // the connection is gone: no left, nothing more
                victim.Gone = i % 2 == 0 ? Gone.Left : Gone.Dropped;
            }
        });
        await Task.WhenAll(publishing.Append(churn)).WaitAsync(Wait);

        const long total = publishers * perPublisher;
        Member[] all;
        lock (members) all = [.. members];
        bool Complete(Member m) => m.Gone switch
        {
            Gone.Dropped => true,
            Gone.Left => m.Socket.Has("left"),
            _ => m.Socket.LastOffset == total || JoinedOffset(m.Socket.Frames[0]) == total, // joined after the last publish
        };
        try
        {
            await Eventually.TrueAsync(() => all.All(Complete), Wait, "every member still in the room has every message, every one that left has its left");
        }
        catch (TimeoutException)
        {
            var lacking = all.Where(m => !Complete(m)).ToList();
            Assert.Fail($"{lacking.Count} members incomplete, e.g. {lacking[0].ConnectionId} ({lacking[0].Gone}): {lacking[0].Socket.Frames.Count} frames, last {lacking[0].Socket.Frames.LastOrDefault()}");
        }

        foreach (var member in all)
        {
            var frames = member.Socket.Frames;
            Assert.True(frames.Count > 0 && frames[0].StartsWith("{\"type\":\"joined\"", StringComparison.Ordinal), member.ConnectionId);
            var expected = JoinedOffset(frames[0]) + 1;
            var sawLeft = false;
            foreach (var frame in frames.Skip(1))
            {
                Assert.False(sawLeft, $"{member.ConnectionId} got a frame after its left: {frame}");
                if (frame.StartsWith("{\"type\":\"left\"", StringComparison.Ordinal))
                {
                    sawLeft = true;
                    continue;
                }
                Assert.Equal(expected++, Frame.Parse(Encoding.UTF8.GetBytes(frame)).Data().Long("offset"));
            }
            if (member.Gone == Gone.None) Assert.Equal(total + 1, expected);
            Assert.False(member.Socket.WrittenConcurrently, $"{member.ConnectionId} was written by two threads at once");
        }
        // The churn came while broadcasts were being written, not before or after all of them.
        Assert.Contains(all, m => m.ConnectionId.StartsWith("late", StringComparison.Ordinal) && JoinedOffset(m.Socket.Frames[0]) is > 0 and < total);
    }

    [Fact]
    public async Task A_large_rooms_member_is_always_written_by_the_same_lane_and_a_small_rooms_by_the_hub()
    {
        var small = Enumerable.Range(0, Threshold - 1).Select(i => Join($"s{i}", "small")).ToList();
        var large = Enumerable.Range(0, Threshold * 8).Select(i => Join($"l{i}")).ToList();
        await AllJoinedAsync(small.Concat(large));

        // The small room first: while any lane has work queued, every room's frames go through the lanes.
        for (var n = 1; n <= 20; n++) Publish("small", n);
        await Eventually.TrueAsync(() => small.All(m => m.Socket.LastOffset == 20), Wait, "the small room's members have all 20");
        for (var n = 1; n <= 20; n++) Publish(RoomId, n);

        await Eventually.TrueAsync(() => large.All(m => m.Socket.LastOffset == 20), Wait, "the large room's members have all 20");
        foreach (var member in large)
        {
            var threads = member.Socket.MessageThreads.Distinct().ToArray();
            Assert.Single(threads);
            Assert.StartsWith("broker-fanout-", threads[0]);
        }
        Assert.True(large.Select(m => m.Socket.MessageThreads[0]).Distinct().Count() > 1, "the large room's writes were split over several lanes");
        foreach (var member in small)
            Assert.DoesNotContain(member.Socket.MessageThreads, t => t?.StartsWith("broker-fanout-", StringComparison.Ordinal) == true);
    }

    [Fact]
    public async Task A_socket_refused_on_a_lane_gets_nothing_more_and_its_actor_is_told_once()
    {
        var slowActor = CreateTestProbe();
        var slow = Join("slow", connection: slowActor.Ref, capacity: 3); // its joined and two messages fit
        var others = Enumerable.Range(0, Threshold * 4).Select(i => Join($"o{i}")).ToList();
        await AllJoinedAsync(others.Append(slow));

        for (var n = 1; n <= 5; n++) Publish(RoomId, n);
        slowActor.FishForMessage(m => m is ConnectionMessages.OutboundRefused, Wait);
        slow.Socket.Capacity = int.MaxValue; // room again: the lane must still not write to it (its actor is cutting it off)
        for (var n = 6; n <= 10; n++) Publish(RoomId, n);

        await Eventually.TrueAsync(() => others.All(m => m.Socket.LastOffset == 10), Wait, "the others have all 10");
        Assert.Equal(2, slow.Socket.LastOffset);
        Assert.Equal(3, slow.Socket.Frames.Count);
        slowActor.ExpectNoMsg(TimeSpan.FromMilliseconds(300)); // told once, not once per refused frame
    }

    // ---- the stand-ins ----

    private enum Gone { None, Left, Dropped }

    private sealed class Member(string connectionId, IActorRef connection, RecordingSocket socket)
    {
        public string ConnectionId { get; } = connectionId;
        public IActorRef Connection { get; } = connection;
        public RecordingSocket Socket { get; } = socket;
        public volatile Gone Gone;
    }

    private Member Join(string connectionId, string roomId = RoomId, IActorRef? connection = null, int capacity = int.MaxValue)
    {
        connection ??= Sys.ActorOf(Props.Create(() => new Silent()));
        var socket = new RecordingSocket(capacity);
        _hub.Tell(new RoomHub.LocalJoin(
            new JoinRoom(roomId, connectionId, "user-" + connectionId, connection, _hub, "j-" + connectionId, null, null), socket), connection);
        return new Member(connectionId, connection, socket);
    }

    private static Task AllJoinedAsync(IEnumerable<Member> members)
    {
        var list = members.ToList();
        return Eventually.TrueAsync(() => list.All(m => m.Socket.Frames.Count > 0), Wait, "every member has its joined");
    }

    private void Publish(string roomId, int n) =>
        _hub.Tell(new PublishToRoom(roomId, null, "pub", Encoding.UTF8.GetBytes($"{{\"n\":{n}}}"), false, null), TestActor);

    private static long JoinedOffset(string joined) => Frame.Parse(Encoding.UTF8.GetBytes(joined)).Data().Long("offset");

    /// <summary>Numbers publishes 1, 2, 3, … per room and answers as a room incarnation does, through the hub.</summary>
    private sealed class NumberingRoom : ReceiveActor
    {
        private readonly Dictionary<string, long> _offsets = new();

        public NumberingRoom()
        {
            Receive<JoinRoom>(join =>
            {
                var offset = _offsets.GetValueOrDefault(join.RoomId);
                var joined = ServerFrames.Joined(join.RequestId, new JoinedData(join.RoomId, "e1", offset, [], Recovered: false, Count: 0));
                Sender.Tell(new JoinResult(join.RoomId, join.ConnectionId, join.Seq, "e1", offset, [joined]));
            });
            Receive<LeaveRoom>(leave =>
            {
                if (leave.Reply) Sender.Tell(new LeaveResult(leave.RoomId, leave.ConnectionId, leave.Seq));
            });
            Receive<PublishToRoom>(publish =>
            {
                var offset = _offsets[publish.RoomId] = _offsets.GetValueOrDefault(publish.RoomId) + 1;
                Sender.Tell(new RoomBroadcast(publish.RoomId, ServerFrames.Message(publish.RoomId, offset, "e1", publish.From, publish.Payload), null, "e1", offset));
                Sender.Tell(new PublishAccepted(publish.RoomId, publish.RequestId, offset, "e1", publish.Seq));
            });
        }
    }

    /// <summary>A connection actor that ignores what it is told (the hub only watches it and, on a refusal, tells it).</summary>
    private sealed class Silent : ReceiveActor
    {
        public Silent() => ReceiveAny(_ => { });
    }

    /// <summary>A socket that records every frame queued on it with the writing thread's name, and catches two writers at once.</summary>
    private sealed class RecordingSocket(int capacity) : IConnectionTransport
    {
        private readonly List<(string Text, string? Thread)> _frames = [];
        private int _writers;

        public volatile int Capacity = capacity;

        public bool WrittenConcurrently { get; private set; }

        public List<string> Frames
        {
            get { lock (_frames) return _frames.Select(f => f.Text).ToList(); }
        }

        public List<string?> MessageThreads
        {
            get { lock (_frames) return _frames.Where(f => f.Text.Contains("\"message\"")).Select(f => f.Thread).ToList(); }
        }

        public bool Has(string type) => Frames.Any(f => f.StartsWith($"{{\"type\":\"{type}\"", StringComparison.Ordinal));

        public long LastOffset
        {
            get
            {
                var last = Frames.LastOrDefault(f => f.StartsWith("{\"type\":\"message\"", StringComparison.Ordinal));
                return last is null ? 0 : Frame.Parse(Encoding.UTF8.GetBytes(last)).Data().Long("offset");
            }
        }

        public void Start(IActorRef connection) { }

        public bool TrySend(byte[] utf8Frame)
        {
            if (Interlocked.Increment(ref _writers) > 1) WrittenConcurrently = true;
            try
            {
                Thread.SpinWait(20); // widen the window a second writer would hit
                lock (_frames)
                {
                    if (_frames.Count >= Capacity) return false;
                    _frames.Add((Encoding.UTF8.GetString(utf8Frame), Thread.CurrentThread.Name));
                    return true;
                }
            }
            finally
            {
                Interlocked.Decrement(ref _writers);
            }
        }

        public void Close(Close close, bool discardQueued = false) { }
    }
}
