using Broker.AspNetCore.Hosting;
using PrometheusScrape = Broker.Tests.Observability.PrometheusScrape;
using Microsoft.Extensions.DependencyInjection;

namespace Broker.Tests.Integration;

/// <summary>A host with small history budgets (64 KiB a room, 256 KiB the node), rooms that passivate after 1 s, no practical rate limit.</summary>
public sealed class SmallHistoryBudgetHostFixture : HostFixture
{
    public const int RoomBytes = 64 * 1024;
    public const int NodeBytes = 256 * 1024;

    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Broker:Rooms:HistoryMaxBytes"] = RoomBytes.ToString(),
        ["Broker:Rooms:HistoryNodeMaxBytes"] = NodeBytes.ToString(),
        ["Broker:Rooms:IdleTimeout"] = "00:00:01",
        ["Broker:Limits:RatePerSecond"] = "100000",
        ["Broker:Limits:RateBurst"] = "100000",
    };
}

/// <summary>
/// Issue #15 at small scale: one user fills many rooms with large messages. The node keeps no more
/// history than its budget (plus one message a room), a late <c>join … since</c> gets what is left
/// with <c>recovered:false</c>, and a member that stayed receives everything in order.
/// </summary>
public sealed class HistoryBudgetTests(SmallHistoryBudgetHostFixture fixture) : IClassFixture<SmallHistoryBudgetHostFixture>
{
    private const int Rooms = 8;
    private const int PerRoom = 12;
    private const int PayloadChars = 20_000; // a frame of about 20 KB: 3 fit a room, 13 the node, 21 the rooms
    private static readonly string Prefix = "hb-" + Guid.NewGuid().ToString("N")[..6] + "-";

    private BrokerTestHost Host => fixture.Host;

    private string NodeName => Host.Services.GetRequiredService<BrokerNode>().NodeName;

    [Fact]
    public async Task Many_large_publishes_across_rooms_keep_history_within_the_node_budget_and_late_joiners_get_what_is_left()
    {
        await using var publisher = await Host.ConnectAuthenticatedAsync("hb-publisher");
        await using var control = await Host.ConnectAuthenticatedAsync("hb-control");
        var epochs = new string[Rooms];
        for (var r = 0; r < Rooms; r++) epochs[r] = (await JoinAsync(publisher, Room(r))).GetProperty("epoch").GetString()!;
        await JoinAsync(control, Room(Rooms - 1));
        var trimmedBefore = await ScrapeAsync();
        var filler = new string('h', PayloadChars);
        var frameBytes = 0L;

        // Room 0 first, past its own cap (6 frames, 3 fit); then round after round across the others, past the node's.
        var plan = Enumerable.Range(1, 6).Select(n => (Room: 0, N: n))
            .Concat(Enumerable.Range(1, PerRoom).SelectMany(n => Enumerable.Range(1, Rooms - 1).Select(r => (Room: r, N: n))));
        var most = 0.0;
        foreach (var (r, n) in plan)
        {
            var ack = await PublishAsync(publisher, Room(r), new JsonObject { ["n"] = n, ["filler"] = filler });
            Assert.Equal(epochs[r], ack.GetProperty("epoch").GetString());
            Assert.Equal(n, ack.GetProperty("offset").GetInt64());
            var held = (await ScrapeAsync()).Sum("broker_history_bytes", $"node={NodeName}");
            most = Math.Max(most, held);
            if (frameBytes == 0) frameBytes = (long)held; // after the first publish: one frame
        }

        // Within the budget, allowing one message in flight per room (frames differ by a few bytes).
        Assert.True(frameBytes > PayloadChars, $"first frame {frameBytes} bytes");
        Assert.True(most <= SmallHistoryBudgetHostFixture.NodeBytes + Rooms * (frameBytes + 16),
            $"the node held {most} history bytes, budget {SmallHistoryBudgetHostFixture.NodeBytes}");
        Assert.True(most > SmallHistoryBudgetHostFixture.NodeBytes - 2 * frameBytes, $"the budget was never reached ({most} bytes)");
        await Eventually.TrueAsync(async () => (await ScrapeAsync()).Sum("broker_history_bytes", $"node={NodeName}") <= SmallHistoryBudgetHostFixture.NodeBytes,
            "history stayed over the node budget once publishing stopped");
        var after = await ScrapeAsync();
        Assert.True(after.Sum("broker_history_trimmed_total", "reason=room") > trimmedBefore.Sum("broker_history_trimmed_total", "reason=room"));
        Assert.True(after.Sum("broker_history_trimmed_total", "reason=node") > trimmedBefore.Sum("broker_history_trimmed_total", "reason=node"));

        // The member that stayed received every message of its room, in order.
        var lastRoom = Room(Rooms - 1);
        for (var n = 1; n <= PerRoom; n++)
        {
            var message = (await control.ReceiveAsync("message")).Data();
            Assert.Equal(lastRoom, message.GetProperty("room").GetString());
            Assert.Equal(n, message.GetProperty("offset").GetInt64());
            Assert.Equal(n, message.GetProperty("payload").GetProperty("n").GetInt32());
        }

        // A late join since the start: what is left, consecutive, ending at the last message, then recovered:false.
        await using var late = await Host.ConnectAuthenticatedAsync("hb-late");
        await late.SendAsync("join", "late", new JsonObject
        {
            ["room"] = lastRoom,
            ["since"] = new JsonObject { ["epoch"] = epochs[Rooms - 1], ["offset"] = 0 },
        });
        var replayed = new List<long>();
        while (true)
        {
            var frame = await late.ReceiveAsync();
            if (frame.Type() == "joined")
            {
                Assert.Equal("late", frame.Id());
                Assert.False(frame.Data().GetProperty("recovered").GetBoolean());
                Assert.Equal(PerRoom, frame.Data().GetProperty("offset").GetInt64());
                break;
            }
            Assert.Equal("message", frame.Type());
            Assert.Equal(frame.Data().GetProperty("offset").GetInt64(), frame.Data().GetProperty("payload").GetProperty("n").GetInt64());
            replayed.Add(frame.Data().GetProperty("offset").GetInt64());
        }
        Assert.NotEmpty(replayed);
        Assert.True(replayed.Count < PerRoom, $"{replayed.Count} messages replayed: nothing was trimmed");
        Assert.Equal(Enumerable.Range(PerRoom - replayed.Count + 1, replayed.Count).Select(o => (long)o), replayed);

        // Rooms left empty passivate and give their bytes back to the node.
        await publisher.DisposeAsync();
        await control.DisposeAsync();
        await late.DisposeAsync();
        await Eventually.TrueAsync(async () => (await ScrapeAsync()).Sum("broker_history_bytes", $"node={NodeName}") == 0,
            TimeSpan.FromSeconds(30), "passivated rooms kept their history bytes on the node's budget");
    }

    [Theory]
    [InlineData("Broker:Rooms:HistoryMaxBytes", "0")]
    [InlineData("Broker:Rooms:HistoryNodeMaxBytes", "-1")]
    public async Task A_history_budget_out_of_range_is_refused_at_start_up_naming_the_key(string key, string value)
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var host = await BrokerTestHost.StartAsync(new Dictionary<string, string?> { [key] = value });
        });

        Assert.Contains(key, error.ToString());
    }

    private static string Room(int r) => Prefix + r;

    private async Task<PrometheusScrape> ScrapeAsync()
    {
        var response = await Host.Http.GetAsync("metrics");
        response.EnsureSuccessStatusCode();
        return PrometheusScrape.Parse(await response.Content.ReadAsStringAsync());
    }

    private static async Task<JsonElement> JoinAsync(TestClient client, string room)
    {
        var id = client.NextId("join");
        await client.SendAsync("join", id, new JsonObject { ["room"] = room });
        return (await client.ReceiveAsync("joined", id)).Data();
    }

    private static async Task<JsonElement> PublishAsync(TestClient client, string room, JsonNode payload)
    {
        var id = client.NextId("pub");
        await client.SendAsync("publish", id, new JsonObject { ["room"] = room, ["payload"] = payload, ["excludeSelf"] = true });
        var ack = await client.ReceiveAsync(id: id, type: "ack");
        return ack.Data();
    }
}
