using System.Diagnostics;

namespace Broker.Tests.Integration;

/// <summary>A host whose presence window is short and whose outbound queue is small, so a storm would show.</summary>
public sealed class PresenceStormHostFixture : HostFixture
{
    public const int Burst = 10;
    public static readonly TimeSpan Window = TimeSpan.FromMilliseconds(200);

    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Broker:Rooms:PresenceWindow"] = Window.ToString(),
        ["Broker:Rooms:PresenceBurst"] = Burst.ToString(),
        ["Broker:Limits:OutboundQueue"] = "200",
        ["Broker:Limits:RatePerSecond"] = "100000",
        ["Broker:Limits:RateBurst"] = "100000",
        ["Broker:Limits:JoinsPerSecondPerUser"] = "100000",
        ["Broker:Limits:JoinBurstPerUser"] = "100000",
    };
}

/// <summary>
/// Issue #15: churning users must not flood a room's other members with presence. Through the
/// real host: a member that reads promptly keeps its socket and every message, in order, while 20
/// users join and leave the room 2,000 times, and the presence frames it gets stay within the
/// room's burst per window.
/// </summary>
public sealed class PresenceStormTests(PresenceStormHostFixture fixture) : IClassFixture<PresenceStormHostFixture>
{
    private const int Churners = 20;
    private const int PairsEach = 50;
    private const int Messages = 30;

    private BrokerTestHost Host => fixture.Host;

    [Fact]
    public async Task A_member_that_reads_promptly_keeps_every_message_and_gets_a_bounded_number_of_presence_frames()
    {
        const string room = "storm-room";
        await using var watcher = await Host.ConnectAuthenticatedAsync("storm-watcher", autoPong: true);
        await using var publisher = await Host.ConnectAuthenticatedAsync("storm-publisher", autoPong: true);
        await watcher.SendAsync("join", "w", new JsonObject { ["room"] = room });
        await watcher.ReceiveAsync("joined", "w");
        await publisher.SendAsync("join", "p", new JsonObject { ["room"] = room });
        await publisher.ReceiveAsync("joined", "p");
        var churners = new List<TestClient>();
        for (var i = 0; i < Churners; i++) churners.Add(await Host.ConnectAuthenticatedAsync($"churner-{i}", autoPong: true));

        // The watcher reads everything as it comes, counting presence and collecting messages.
        var presence = 0;
        var offsets = new List<long>();
        var stopwatch = Stopwatch.StartNew();
        var reading = Task.Run(async () =>
        {
            while (offsets.Count < Messages)
            {
                var frame = await watcher.ReceiveAsync(timeout: TimeSpan.FromSeconds(30));
                switch (frame.Type())
                {
                    case "presence" or "occupancy": presence++; break;
                    case "message": offsets.Add(frame.Data().GetProperty("offset").GetInt64()); break;
                }
            }
        });

        // Every churner pipelines its join/leave pairs; the publisher publishes meanwhile.
        var churn = churners.Select(async client =>
        {
            for (var n = 0; n < PairsEach; n++)
            {
                await client.SendAsync("join", null, new JsonObject { ["room"] = room });
                await client.SendAsync("leave", null, new JsonObject { ["room"] = room });
            }
            await client.PingPongAsync(); // its frames were all handled
        }).ToList();
        for (var m = 0; m < Messages; m++)
        {
            await publisher.SendAsync("publish", $"m{m}", new JsonObject { ["room"] = room, ["payload"] = m });
            await publisher.ReceiveAsync("ack", $"m{m}");
        }
        await Task.WhenAll(churn);
        await reading.WaitAsync(TimeSpan.FromSeconds(60));
        var elapsed = stopwatch.Elapsed;

        Assert.Equal(Enumerable.Range(1, Messages).Select(o => (long)o), offsets);
        await watcher.PingPongAsync(); // still connected: not cut off as a slow consumer
        // At most the burst per window (plus the windows that straddle the start and end), against
        // 2,000 changes that would each have been a frame.
        var windows = (int)Math.Ceiling(elapsed / PresenceStormHostFixture.Window) + 2;
        Assert.InRange(presence, 0, PresenceStormHostFixture.Burst * windows);
        Assert.True(presence < Churners * PairsEach * 2 / 4, $"{presence} presence frames in {elapsed}");
        foreach (var client in churners) await client.DisposeAsync();
    }
}

/// <summary>Both clients surface the <c>occupancy</c> count that replaces a flood of presence frames.</summary>
public sealed class OccupancyClientTests(PresenceStormHostFixture fixture) : IClassFixture<PresenceStormHostFixture>
{
    [Fact]
    public async Task The_dotnet_client_raises_OccupancyChanged_with_the_rooms_user_count_when_joins_flood_in()
    {
        const string room = "occupancy-room";
        const int joiners = 3 * PresenceStormHostFixture.Burst;
        await using var watcher = new Broker.Client.BrokerClient(new Broker.Client.BrokerClientOptions
        {
            Url = fixture.Host.WebSocketUri("chat"),
            TokenProvider = _ => ValueTask.FromResult(TestTokens.Valid("occupancy-watcher")),
        });
        // Occupancy counts and presence joins, in arrival order (null user: an occupancy count).
        var events = System.Threading.Channels.Channel.CreateUnbounded<(int? Count, string? User)>();
        watcher.OccupancyChanged += o => { if (o.Room == room) events.Writer.TryWrite((o.Count, null)); };
        watcher.PresenceChanged += p => { if (p.Room == room && p.Joined) events.Writer.TryWrite((null, p.User)); };
        await watcher.ConnectAsync().OrTimeout();
        await watcher.JoinAsync(room).OrTimeout();
        var clients = new List<TestClient>();
        for (var i = 0; i < joiners; i++) clients.Add(await fixture.Host.ConnectAuthenticatedAsync($"occupant-{i}", autoPong: true));

        // All at once: far more real changes than the burst inside one window.
        await Task.WhenAll(clients.Select(c => c.SendAsync("join", "j", new JsonObject { ["room"] = room })));
        foreach (var c in clients) await c.ReceiveAsync("joined", "j");

        // A count arrives, and with the joins announced after it (those that fell into the next
        // window) it adds up to the room's users: the watcher and every joiner.
        int? count = null;
        var since = 0;
        var sawCount = false;
        while (count is null || count + since != joiners + 1)
        {
            var (c, _) = await events.Reader.ReadAsync().AsTask().OrTimeout();
            if (c is { } n) { count = n; since = 0; sawCount = true; }
            else since++;
        }
        Assert.True(sawCount);
        foreach (var c in clients) await c.DisposeAsync();
    }
}

/// <summary>A host with a low per-user join rate (5/s, burst 10).</summary>
public sealed class JoinRateHostFixture : HostFixture
{
    public const int Rate = 5;
    public const int Burst = 10;

    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Broker:Limits:JoinsPerSecondPerUser"] = Rate.ToString(),
        ["Broker:Limits:JoinBurstPerUser"] = Burst.ToString(),
    };
}

/// <summary>Issue #15: one user's joins are rate-limited across all its connections, the bucket refills, and other users are unaffected.</summary>
public sealed class UserJoinRateTests(JoinRateHostFixture fixture) : IClassFixture<JoinRateHostFixture>
{
    private BrokerTestHost Host => fixture.Host;

    [Fact]
    public async Task Joins_past_the_users_burst_get_rate_limited_on_any_of_its_connections_and_the_bucket_refills_over_many_periods()
    {
        var connections = new List<TestClient>();
        for (var i = 0; i < 3; i++) connections.Add(await Host.ConnectAuthenticatedAsync("joiner", autoPong: true));
        await using var bystander = await Host.ConnectAuthenticatedAsync("bystander", autoPong: true);

        // The burst, spread over the user's three connections.
        for (var n = 0; n < JoinRateHostFixture.Burst; n++)
        {
            var client = connections[n % 3];
            await client.SendAsync("join", $"j{n}", new JsonObject { ["room"] = $"r{n}" });
            Assert.Equal("joined", (await client.ReceiveAsync("joined", $"j{n}")).Type());
        }
        var refused = 0;
        for (var n = 0; n < 3; n++)
        {
            await connections[n].SendAsync("join", $"x{n}", new JsonObject { ["room"] = "one-too-many" });
            var answer = await connections[n].ReceiveReplyAsync($"x{n}");
            if (answer.ErrorCode() == "rate_limited") refused++;
        }
        Assert.True(refused >= 2, $"{refused} of 3 joins past the burst were refused"); // one may have refilled meanwhile
        await bystander.SendAsync("join", "b", new JsonObject { ["room"] = "one-too-many" });
        Assert.Equal("joined", (await bystander.ReceiveAsync("joined", "b")).Type());

        // Many periods: each time the bucket is empty, a join is allowed again once it has refilled.
        for (var period = 0; period < 5; period++)
        {
            var joined = false;
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (!joined && DateTime.UtcNow < deadline)
            {
                var id = $"p{period}-{Guid.NewGuid():N}";
                await connections[period % 3].SendAsync("join", id, new JsonObject { ["room"] = $"period-{period}" });
                var answer = await connections[period % 3].ReceiveReplyAsync(id);
                joined = answer.Type() == "joined";
                if (!joined)
                {
                    Assert.Equal("rate_limited", answer.ErrorCode());
                    await Task.Delay(TimeSpan.FromSeconds(1.0 / JoinRateHostFixture.Rate));
                }
            }
            Assert.True(joined, $"period {period}: no join allowed within 10 s");
            // Empty the bucket again.
            for (var n = 0; n < JoinRateHostFixture.Burst + 2; n++)
            {
                var id = $"e{period}-{n}";
                await connections[0].SendAsync("join", id, new JsonObject { ["room"] = $"drain-{period}" });
                await connections[0].ReceiveReplyAsync(id);
            }
        }
        foreach (var client in connections) await client.DisposeAsync();
    }
}
