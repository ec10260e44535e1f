namespace Broker.Tests.Integration;

public sealed partial class RoomsIntegrationTests
{
    [Fact]
    public async Task A_direct_message_reaches_every_connection_of_the_user_and_the_sender_learns_how_many()
    {
        var bobUser = NewUser("bob");
        await using var alice = await Connect(NewUser("alice"));
        await using var bobPhone = await Connect(bobUser);
        await using var bobLaptop = await Connect(bobUser);

        await alice.SendAsync(new { type = "send", id = "s1", data = new { user = bobUser, payload = new { text = "psst" } } });

        var ack = await alice.ReceiveAsync("ack", "s1");
        Assert.Equal(2, ack.Data().GetProperty("delivered").GetInt32());
        foreach (var bob in new[] { bobPhone, bobLaptop })
        {
            var direct = await bob.ReceiveAsync("direct");
            Assert.Equal(alice.User, direct.Data().Str("from"));
            Assert.Equal("""{"text":"psst"}""", direct.Data().GetProperty("payload").GetRawText());
        }
    }

    [Fact]
    public async Task A_direct_message_to_an_offline_user_is_delivered_to_nobody()
    {
        await using var alice = await Connect(NewUser("alice"));

        await alice.SendAsync(new { type = "send", id = "s1", data = new { user = NewUser("ghost"), payload = 1 } });

        Assert.Equal(0, (await alice.ReceiveAsync("ack", "s1")).Data().GetProperty("delivered").GetInt32());
    }
}
