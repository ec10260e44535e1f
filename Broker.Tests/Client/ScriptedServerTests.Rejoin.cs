using Broker.Client;
using Broker.Client.Protocol;

namespace Broker.Tests.Client;

public sealed partial class ScriptedServerTests
{
    [Fact]
    public async Task Rejoin_sends_since_drops_replayed_duplicates_and_reports_recovery()
    {
        await using var client = NewClient();
        var events = new ClientEvents(client);
        var first = await _server.ConnectAsync(client);
        var join = client.JoinAsync("room-a");
        await first.AnswerJoinAsync("e1", 0, recovered: false);
        await join.WaitAsync(Timeout);
        await first.MessageAsync("room-a", "e1", 1);
        await first.MessageAsync("room-a", "e1", 2);
        await first.MessageAsync("room-a", "e1", 2); // a duplicate on the live path too
        Assert.Equal(1, (await events.MessageAsync()).Offset);
        Assert.Equal(2, (await events.MessageAsync()).Offset);

        await first.CloseAsync(CloseCodes.GoingAway);
        var second = await _server.AcceptAuthenticatedAsync();
        var rejoin = await second.AnswerJoinAsync("e1", 4, recovered: true, replay: [1, 2, 3, 4]);

        var since = rejoin.GetProperty("data").GetProperty("since");
        Assert.Equal("e1", since.GetProperty("epoch").GetString());
        Assert.Equal(2, since.GetProperty("offset").GetInt64());
        Assert.Equal(new RoomRecovered("room-a", Recovered: true, EpochChanged: false, Missed: 2), await events.RecoveredAsync());
        Assert.Equal(3, (await events.MessageAsync()).Offset);
        Assert.Equal(4, (await events.MessageAsync()).Offset);
        Assert.False(events.TryTakeMessage(out var extra), $"unexpected offset {extra.Offset}");
    }

    [Fact]
    public async Task A_new_epoch_at_rejoin_tells_the_app_to_resync()
    {
        await using var client = NewClient();
        var events = new ClientEvents(client);
        var first = await _server.ConnectAsync(client);
        var join = client.JoinAsync("room-b");
        await first.AnswerJoinAsync("e1", 10, recovered: false);
        await join.WaitAsync(Timeout);

        first.Abort();
        var second = await _server.AcceptAuthenticatedAsync();
        await second.AnswerJoinAsync("e2", 0, recovered: false);
        await second.MessageAsync("room-b", "e2", 1);

        Assert.Equal(new RoomRecovered("room-b", Recovered: false, EpochChanged: true, Missed: 0), await events.RecoveredAsync());
        var message = await events.MessageAsync();
        Assert.Equal(("e2", 1L), (message.Epoch, message.Offset));
    }

    [Fact]
    public async Task A_join_from_a_stored_position_replays_what_follows_it()
    {
        await using var client = NewClient();
        var events = new ClientEvents(client);
        var side = await _server.ConnectAsync(client);

        var join = client.JoinAsync("room-s", "e1", 5);
        var frame = await side.AnswerJoinAsync("e1", 7, recovered: true, replay: [5, 6, 7]);
        var joined = await join.WaitAsync(Timeout);

        Assert.Equal(5, frame.GetProperty("data").GetProperty("since").GetProperty("offset").GetInt64());
        Assert.True(joined.Recovered);
        Assert.Equal(6, (await events.MessageAsync()).Offset);
        Assert.Equal(7, (await events.MessageAsync()).Offset);
        Assert.False(events.TryTakeMessage(out _));
        Assert.False(events.TryTakeRecovered(out _)); // the app asked; the answer is the Joined
    }
}
