using System.Net;

namespace Broker.Tests.Integration;

/// <summary>Presence modes (PROTOCOL §9.3) through the real host: what joined carries and what the others receive, per mode; the paged API.</summary>
public sealed partial class RoomsIntegrationTests
{
    [Fact]
    public async Task Full_room_joined_lists_members_and_counts_users_not_connections()
    {
        var room = RoomsHostFixture.NewRoom("full");
        var aliceUser = NewUser("alice");
        await using var alice = await Connect(aliceUser);
        await using var alicePhone = await Connect(aliceUser);
        await using var bob = await Connect(NewUser("bob"));
        await alice.JoinAsync(room);
        var second = await alicePhone.JoinAsync(room);
        Assert.Equal(1, second.Long("count"));

        var bobJoined = await bob.JoinAsync(room);

        Assert.Equal([alice.User, bob.User], bobJoined.Strings("members").Order());
        Assert.Equal(2, bobJoined.Long("count"));
        await ExpectPresence(alice, room, "join", bob.User);
    }

    [Fact]
    public async Task Counts_room_joined_has_the_count_only_and_members_hear_occupancy_not_presence()
    {
        var room = RoomsHostFixture.NewRoom("counts:lobby");
        await using var alice = await Connect(NewUser("alice"));
        await using var bob = await Connect(NewUser("bob"));
        await using var carol = await Connect(NewUser("carol"));
        var aliceJoined = await alice.JoinAsync(room);
        Assert.Equal(1, aliceJoined.Long("count"));
        Assert.False(aliceJoined.TryGetProperty("members", out _));

        var bobJoined = await bob.JoinAsync(room);
        var carolJoined = await carol.JoinAsync(room);

        Assert.Equal(2, bobJoined.Long("count"));
        Assert.Equal(3, carolJoined.Long("count"));
        Assert.False(carolJoined.TryGetProperty("members", out _));
        // Within about a second alice hears the exact count, and never a presence frame.
        var frames = await FramesUntil(alice, f => f.Type() == "occupancy" && f.Data().Long("count") == 3, TimeSpan.FromSeconds(5));
        Assert.DoesNotContain(frames, f => f.Type() == "presence");
        Assert.All(frames.Where(f => f.Type() == "occupancy"), f => Assert.Equal(room, f.Data().Str("room")));

        await bob.SendAsync(new { type = "leave", id = "l1", data = new { room } });
        frames = await FramesUntil(alice, f => f.Type() == "occupancy" && f.Data().Long("count") == 2, TimeSpan.FromSeconds(5));
        Assert.DoesNotContain(frames, f => f.Type() == "presence");
    }

    [Fact]
    public async Task Off_room_joined_has_the_count_and_members_hear_neither_presence_nor_occupancy()
    {
        var room = RoomsHostFixture.NewRoom("quiet:lobby");
        await using var alice = await Connect(NewUser("alice"));
        await using var bob = await Connect(NewUser("bob"));
        await alice.JoinAsync(room);
        var bobJoined = await bob.JoinAsync(room);
        Assert.Equal(2, bobJoined.Long("count"));
        Assert.False(bobJoined.TryGetProperty("members", out _));
        await bob.SendAsync(new { type = "leave", id = "l1", data = new { room } });
        await bob.ReceiveAsync("left", "l1");

        // A message after all of that (the room handles in order, and a count would go out at once
        // on the first change): everything alice got before it is all she got. Over time: RoomPresenceModeSpecs.
        await using var dave = await Connect(NewUser("dave"));
        await dave.JoinAsync(room);
        await dave.PublishAsync(room, "marker");
        var frames = await FramesUntil(alice, f => f.Type() == "message", TimeSpan.FromSeconds(5));
        Assert.DoesNotContain(frames, f => f.Type() is "presence" or "occupancy");
    }

    [Fact]
    public async Task Room_members_are_paged_and_a_cursor_walk_returns_every_user_exactly_once()
    {
        var room = RoomsHostFixture.NewRoom("counts:paged");
        var clients = await Task.WhenAll(Enumerable.Range(0, 7).Select(i => Connect(NewUser($"u{i}"))));
        try
        {
            foreach (var client in clients) await client.JoinAsync(room);
            var seen = new List<string>();
            string? cursor = null;
            var pages = new List<int>();
            do
            {
                var path = $"/api/rooms/{room}?limit=3" + (cursor is null ? "" : $"&cursor={Uri.EscapeDataString(cursor)}");
                using var response = await Api(HttpMethod.Get, path, apiKey: RoomsHostFixture.ApiKey);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                var body = await Body(response);
                Assert.Equal(7, body.Long("count"));
                var members = body.Strings("members");
                pages.Add(members.Length);
                seen.AddRange(members);
                cursor = body.TryGetProperty("next", out var next) ? next.GetString() : null;
            } while (cursor is not null && pages.Count < 10);

            Assert.Equal([3, 3, 1], pages);
            Assert.Equal(clients.Select(c => c.User).Order(StringComparer.Ordinal), seen);

            // The default page holds them all, and says there is no next.
            using var all = await Api(HttpMethod.Get, $"/api/rooms/{room}", apiKey: RoomsHostFixture.ApiKey);
            var allBody = await Body(all);
            Assert.Equal(7, allBody.Strings("members").Length);
            Assert.False(allBody.TryGetProperty("next", out _));
        }
        finally
        {
            foreach (var client in clients) await client.DisposeAsync();
        }
    }

    [Theory]
    [InlineData("limit=0")]
    [InlineData("limit=1001")]
    [InlineData("limit=-5")]
    [InlineData("limit=ten")]
    [InlineData("limit=")]
    [InlineData("limit=1&limit=2")]
    [InlineData("cursor=***")]
    [InlineData("cursor=")]
    public async Task Room_members_with_a_bad_limit_or_cursor_are_a_bad_request(string query)
    {
        var room = RoomsHostFixture.NewRoom("paged-bad");
        using var response = await Api(HttpMethod.Get, $"/api/rooms/{room}?{query}", apiKey: RoomsHostFixture.ApiKey);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = await Body(response);
        Assert.Equal("bad_request", body.Str("code"));
        Assert.False(string.IsNullOrEmpty(body.Str("error")));
    }

    /// <summary>The frames <paramref name="client"/> receives, in order, up to and including the first that <paramref name="last"/> accepts.</summary>
    private static async Task<List<JsonElement>> FramesUntil(TestClient client, Predicate<JsonElement> last, TimeSpan timeout)
    {
        var frames = new List<JsonElement>();
        using var deadline = new CancellationTokenSource(timeout);
        while (true)
        {
            var frame = await client.ReceiveAsync(timeout: timeout);
            frames.Add(frame);
            if (last(frame)) return frames;
            if (deadline.IsCancellationRequested) throw new TimeoutException($"no matching frame within {timeout}; got {string.Join(", ", frames.Select(f => f.GetRawText()))}");
        }
    }
}
