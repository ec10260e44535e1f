using Broker.Client;

namespace Broker.Tests.Client;

public sealed partial class ScriptedServerTests
{
    [Fact]
    public async Task A_joined_without_members_gives_the_count_and_says_the_list_was_not_sent()
    {
        await using var client = NewClient();
        var occupancy = new TaskCompletionSource<RoomOccupancy>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.OccupancyChanged += o => occupancy.TrySetResult(o);
        var side = await _server.ConnectAsync(client);

        var joining = client.JoinAsync("counts:big");
        var frame = await side.ReceiveAsync("join");
        await side.SendAsync($$$"""{"type":"joined","id":"{{{frame.GetProperty("id").GetString()}}}","data":{"room":"counts:big","epoch":"e1","offset":0,"recovered":false,"count":15000}}""");
        var joined = await joining.WaitAsync(Timeout);
        await side.SendAsync("""{"type":"occupancy","data":{"room":"counts:big","count":15001}}""");

        Assert.Equal(15000, joined.Count);
        Assert.False(joined.MembersListed);
        Assert.Empty(joined.Members);
        Assert.Equal(new RoomOccupancy("counts:big", 15001), await occupancy.Task.WaitAsync(Timeout));
    }

    [Fact]
    public async Task A_joined_with_members_lists_them_and_counts_them_when_the_server_sends_no_count()
    {
        await using var client = NewClient();
        var side = await _server.ConnectAsync(client);

        var joining = client.JoinAsync("lobby");
        var frame = await side.ReceiveAsync("join");
        await side.SendAsync($$$"""{"type":"joined","id":"{{{frame.GetProperty("id").GetString()}}}","data":{"room":"lobby","epoch":"e1","offset":0,"members":["alice","bob"],"recovered":false}}""");
        var joined = await joining.WaitAsync(Timeout);

        Assert.True(joined.MembersListed);
        Assert.Equal(["alice", "bob"], joined.Members);
        Assert.Equal(2, joined.Count);
    }
}
