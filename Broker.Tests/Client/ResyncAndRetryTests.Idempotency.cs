using System.Text.RegularExpressions;
using Broker.Client;

namespace Broker.Tests.Client;

// PROTOCOL §9.2 on the client: every publish carries an idempotencyKey, made once per call, so the
// first send and every retry after `unavailable` carry the same one and the server applies it once.
public sealed partial class ResyncAndRetryTests
{
    private static readonly Regex GeneratedKey = new("^[A-Za-z0-9_-]{22}$");

    private static string Key(JsonElement publish) => publish.GetProperty("data").GetProperty("idempotencyKey").GetString()!;

    private static Task AckAsync(ServerSide side, JsonElement publish, long offset) =>
        side.SendAsync($$$"""{"type":"ack","id":"{{{Id(publish)}}}","data":{"offset":{{{offset}}},"epoch":"e1"}}""");

    [Fact]
    public async Task Every_publish_overload_sends_a_generated_key_and_no_two_publishes_share_one()
    {
        var (client, _, side) = await ConnectedAsync();
        await using var owned = client;
        var element = JsonDocument.Parse("""{"text":"same"}""").RootElement;
        var raw = """{"text":"same"}"""u8.ToArray();
        var typed = new ChatLine("same", 1);

        Task[] publishes =
        [
            client.PublishAsync("room-k", raw),
            client.PublishAsync("room-k", element),
            client.PublishAsync("room-k", typed, ClientTestJson.Default.ChatLine),
            client.PublishWithAckAsync("room-k", raw),
            client.PublishWithAckAsync("room-k", element, excludeSelf: true),
            client.PublishWithAckAsync("room-k", typed, ClientTestJson.Default.ChatLine),
        ];
        var keys = new List<string>();
        for (var i = 1; i <= publishes.Length; i++)
        {
            var frame = await side.ReceiveAsync("publish");
            keys.Add(Key(frame));
            await AckAsync(side, frame, i);
        }
        await Task.WhenAll(publishes).WaitAsync(Timeout);

        Assert.All(keys, key => Assert.Matches(GeneratedKey, key));
        Assert.Equal(keys.Count, keys.Distinct().Count());
    }

    [Fact]
    public async Task The_first_send_and_every_retry_after_unavailable_carry_the_same_key()
    {
        var (client, _, side) = await ConnectedAsync();
        await using var owned = client;

        var publish = client.PublishWithAckAsync("room-ku", "{}"u8.ToArray());
        var sends = new List<JsonElement> { await side.ReceiveAsync("publish") };
        await UnavailableAsync(side, sends[^1]);
        sends.Add(await side.ReceiveAsync("publish"));
        await UnavailableAsync(side, sends[^1]);
        sends.Add(await side.ReceiveAsync("publish"));
        await AckAsync(side, sends[^1], 3);

        Assert.Equal(new PublishAck(3, "e1"), await publish.WaitAsync(Timeout));
        Assert.Matches(GeneratedKey, Key(sends[0]));
        Assert.All(sends, frame => Assert.Equal(Key(sends[0]), Key(frame)));
    }

    [Fact]
    public async Task A_retry_that_goes_out_on_the_next_connection_carries_the_same_key()
    {
        // The retry waits 500 ms (no jitter): long after the client has seen the drop, so it goes
        // out on the next connection, whenever that is up.
        var (client, events, first) = await ConnectedAsync(new RetryOptions { InitialDelay = TimeSpan.FromMilliseconds(500), Jitter = 0 });
        await using var owned = client;

        var publish = client.PublishAsync("room-kr", "1"u8.ToArray());
        var original = await first.ReceiveAsync("publish");
        await UnavailableAsync(first, original);
        // The pong proves the client read the error (frames are handled in order) before the drop.
        await first.SendAsync("""{"type":"ping"}""");
        await first.ReceiveAsync("pong");
        first.Abort();
        Assert.True((await events.ClosedAsync()).WillReconnect);
        var second = await _server.AcceptAuthenticatedAsync();
        var retry = await second.ReceiveAsync("publish");
        await AckAsync(second, retry, 1);

        Assert.Equal(1, await publish.WaitAsync(Timeout));
        Assert.Equal(Key(original), Key(retry));
    }

    [Fact]
    public async Task A_key_the_caller_passes_is_sent_as_is_on_every_attempt()
    {
        var (client, _, side) = await ConnectedAsync();
        await using var owned = client;
        const string mine = "order \"42\" – é"; // any characters: JSON-escaped on the wire, the same string at the server

        var publish = client.PublishAsync("room-kc", "1"u8.ToArray(), excludeSelf: true, idempotencyKey: mine);
        var first = await side.ReceiveAsync("publish");
        await UnavailableAsync(side, first);
        var second = await side.ReceiveAsync("publish");
        await AckAsync(side, second, 7);

        Assert.Equal(7, await publish.WaitAsync(Timeout));
        Assert.Equal([mine, mine], new[] { Key(first), Key(second) });
        Assert.True(first.GetProperty("data").GetProperty("excludeSelf").GetBoolean());
    }

    [Fact]
    public async Task Keys_of_1_and_64_characters_are_sent()
    {
        var (client, _, side) = await ConnectedAsync();
        await using var owned = client;
        var longest = new string('k', 64);

        var shortOne = client.PublishAsync("room-kl", JsonDocument.Parse("1").RootElement, idempotencyKey: "k");
        var longOne = client.PublishWithAckAsync("room-kl", JsonDocument.Parse("2").RootElement, idempotencyKey: longest);
        var a = await side.ReceiveAsync("publish");
        var b = await side.ReceiveAsync("publish");
        await AckAsync(side, a, 1);
        await AckAsync(side, b, 2);

        await Task.WhenAll(shortOne, longOne).WaitAsync(Timeout);
        Assert.Equal(["k", longest], new[] { Key(a), Key(b) });
    }

    [Theory]
    [InlineData(0)]
    [InlineData(65)]
    public async Task A_caller_key_that_is_empty_or_longer_than_64_characters_is_refused_and_nothing_is_sent(int length)
    {
        var (client, _, side) = await ConnectedAsync();
        await using var owned = client;
        var bad = new string('k', length);

        var refusals = new[]
        {
            await Assert.ThrowsAsync<ArgumentException>(() => client.PublishAsync("room-kb", "1"u8.ToArray(), idempotencyKey: bad).WaitAsync(Timeout)),
            await Assert.ThrowsAsync<ArgumentException>(() => client.PublishWithAckAsync("room-kb", JsonDocument.Parse("1").RootElement, idempotencyKey: bad).WaitAsync(Timeout)),
            await Assert.ThrowsAsync<ArgumentException>(() => client.PublishAsync("room-kb", new ChatLine("x", 1), ClientTestJson.Default.ChatLine, idempotencyKey: bad).WaitAsync(Timeout)),
        };

        Assert.All(refusals, e => Assert.Equal(("idempotencyKey", true), (e.ParamName, e.Message.Contains("1–64 characters"))));
        _ = client.PingAsync(); // never answered: it only proves no publish came before it
        Assert.Equal("ping", (await side.ReceiveAsync()).GetProperty("type").GetString());
    }

    [Fact]
    public void NewIdempotencyKey_makes_distinct_22_character_url_safe_keys()
    {
        var keys = Enumerable.Range(0, 1000).Select(_ => BrokerClient.NewIdempotencyKey()).ToList();

        Assert.All(keys, key => Assert.Matches(GeneratedKey, key));
        Assert.Equal(keys.Count, keys.Distinct().Count());
    }
}
