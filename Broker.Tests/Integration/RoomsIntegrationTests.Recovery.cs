namespace Broker.Tests.Integration;

public sealed partial class RoomsIntegrationTests
{
    [Fact]
    public async Task A_client_that_reconnects_with_its_position_gets_exactly_the_missed_messages_before_joined()
    {
        var room = RoomsHostFixture.NewRoom("recover");
        var aliceUser = NewUser("alice");
        await using var publisher = await Connect(NewUser("pub"));
        var alice = await Connect(aliceUser);
        var epoch = (await alice.JoinAsync(room)).Str("epoch");
        await publisher.JoinAsync(room);
        await publisher.PublishAsync(room, 1);
        await publisher.PublishAsync(room, 2);
        var seen = await alice.MessagesAsync(2);
        alice.Abort();

        for (var n = 3; n <= 2 + RoomsHostFixture.HistorySize; n++) await publisher.PublishAsync(room, n);
        await using var aliceAgain = await Connect(aliceUser);
        var joinId = await aliceAgain.SendJoinAsync(room, epoch, seen[^1].Long("offset"));

        var replayed = new List<JsonElement>();
        for (var i = 0; i < RoomsHostFixture.HistorySize; i++) replayed.Add(await aliceAgain.ReceiveAsync());
        var joined = await aliceAgain.ReceiveAsync();
        Assert.All(replayed, f => Assert.Equal("message", f.Type()));
        Assert.Equal([3L, 4L, 5L], replayed.Select(f => f.Data().Long("offset")));
        Assert.Equal(["3", "4", "5"], replayed.Select(f => f.Data().GetProperty("payload").GetRawText()));
        Assert.Equal("joined", joined.Type());
        Assert.Equal(joinId, joined.Id());
        Assert.Equal(epoch, joined.Data().Str("epoch"));
        Assert.Equal(5, joined.Data().Long("offset"));
        Assert.True(joined.Data().Bool("recovered"));
        await alice.DisposeAsync();
    }

    [Fact]
    public async Task A_client_that_missed_more_than_the_history_is_told_it_did_not_recover()
    {
        var room = RoomsHostFixture.NewRoom("toolate");
        var aliceUser = NewUser("alice");
        await using var publisher = await Connect(NewUser("pub"));
        var alice = await Connect(aliceUser);
        var epoch = (await alice.JoinAsync(room)).Str("epoch");
        await publisher.JoinAsync(room);
        await publisher.PublishAsync(room, 1);
        await alice.MessagesAsync(1);
        alice.Abort();

        for (var n = 2; n <= 3 + RoomsHostFixture.HistorySize; n++) await publisher.PublishAsync(room, n); // 2..6, history keeps 4..6
        await using var aliceAgain = await Connect(aliceUser);
        await aliceAgain.SendJoinAsync(room, epoch, 1);

        var frames = new List<JsonElement>();
        do frames.Add(await aliceAgain.ReceiveAsync()); while (frames[^1].Type() != "joined");
        var joined = frames[^1].Data();
        Assert.False(joined.Bool("recovered"));
        Assert.Equal(6, joined.Long("offset"));
        // What is still in history comes first, in order, and nothing older than it.
        Assert.Equal([4L, 5L, 6L], frames[..^1].Select(f => f.Data().Long("offset")));
        await alice.DisposeAsync();
    }

    [Fact]
    public async Task A_client_with_a_position_in_another_epoch_gets_no_replay_and_is_told_it_did_not_recover()
    {
        var room = RoomsHostFixture.NewRoom("epoch");
        await using var publisher = await Connect(NewUser("pub"));
        await publisher.JoinAsync(room);
        await publisher.PublishAsync(room, 1);
        await using var alice = await Connect(NewUser("alice"));

        await alice.SendJoinAsync(room, "an-epoch-long-gone", 0);

        var joined = await alice.ReceiveAsync();
        Assert.Equal("joined", joined.Type());
        Assert.Equal(1, joined.Data().Long("offset"));
        Assert.False(joined.Data().Bool("recovered"));
    }

    [Fact]
    public async Task A_client_already_up_to_date_recovers_with_nothing_to_replay()
    {
        var room = RoomsHostFixture.NewRoom("uptodate");
        await using var publisher = await Connect(NewUser("pub"));
        var epoch = (await publisher.JoinAsync(room)).Str("epoch");
        await publisher.PublishAsync(room, 1);
        await using var alice = await Connect(NewUser("alice"));

        await alice.SendJoinAsync(room, epoch, 1);

        var joined = await alice.ReceiveAsync();
        Assert.Equal("joined", joined.Type());
        Assert.True(joined.Data().Bool("recovered"));
    }
}
