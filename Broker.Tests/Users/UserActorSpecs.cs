using Akka.Cluster.Sharding;
using Broker.Actors.Connections;
using Broker.Actors.Users;
using Broker.Contracts.Protocol;
using Broker.Contracts.Cluster;
using static Broker.Contracts.Cluster.UserCommands;
using static Broker.Contracts.Cluster.UserEvents;

namespace Broker.Tests.Users;

/// <summary>One user's directory entry, with probes standing in for the user's connections.</summary>
public sealed class UserActorSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan LongIdle = TimeSpan.FromMinutes(5);

    private IActorRef NewUser(string userId = "bob") => Sys.ActorOf(UserActor.Props(userId, LongIdle));

    private UserStatus StatusOf(IActorRef user, string userId = "bob")
    {
        user.Tell(new GetUserStatus(userId));
        return ExpectMsg<UserStatus>();
    }

    [Fact]
    public void A_direct_message_reaches_every_connection_of_the_user_and_reports_how_many()
    {
        var bob = NewUser();
        var (phone, laptop) = (CreateTestProbe(), CreateTestProbe());
        bob.Tell(new RegisterConnection("bob", "c1", phone.Ref));
        bob.Tell(new RegisterConnection("bob", "c2", laptop.Ref));
        var alice = CreateTestProbe();

        bob.Tell(new SendToUser("bob", "alice", Frame.Json("""{"text":"hi"}"""), "s1"), alice.Ref);

        foreach (var connection in new[] { phone, laptop })
        {
            var direct = Frame.Parse(connection.ExpectMsg<ConnectionCommands.Deliver>().Frame);
            Assert.Equal("direct", direct.Type());
            Assert.Equal("alice", direct.Data().Str("from"));
            Assert.Equal("hi", direct.Data().GetProperty("payload").Str("text"));
        }
        Assert.Equal(new DirectDelivered("s1", 2), alice.ExpectMsg<DirectDelivered>());
    }

    [Fact]
    public void A_direct_message_to_an_offline_user_reaches_nobody()
    {
        var bob = NewUser();
        var alice = CreateTestProbe();

        bob.Tell(new SendToUser("bob", "alice", Frame.Json("1"), null), alice.Ref);

        Assert.Equal(new DirectDelivered(null, 0), alice.ExpectMsg<DirectDelivered>());
    }

    [Fact]
    public void A_terminated_connection_is_removed()
    {
        var bob = NewUser();
        var (phone, laptop) = (CreateTestProbe(), CreateTestProbe());
        bob.Tell(new RegisterConnection("bob", "c1", phone.Ref));
        bob.Tell(new RegisterConnection("bob", "c2", laptop.Ref));

        Sys.Stop(laptop.Ref);

        AwaitAssert(() => Assert.Equal(1, StatusOf(bob).Connections), TimeSpan.FromSeconds(3));
        var alice = CreateTestProbe();
        bob.Tell(new SendToUser("bob", "alice", Frame.Json("1"), "s1"), alice.Ref);
        Assert.Equal(1, alice.ExpectMsg<DirectDelivered>().Delivered);
        phone.ExpectMsg<ConnectionCommands.Deliver>();
    }

    [Fact]
    public void An_unregistered_connection_is_removed()
    {
        var bob = NewUser();
        var phone = CreateTestProbe();
        bob.Tell(new RegisterConnection("bob", "c1", phone.Ref));

        bob.Tell(new UnregisterConnection("bob", "c1"));

        var status = StatusOf(bob);
        Assert.False(status.Online);
        Assert.Equal(0, status.Connections);
    }

    [Fact]
    public void Status_tells_whether_the_user_is_online_with_how_many_connections_and_which_rooms()
    {
        var bob = NewUser();
        bob.Tell(new RegisterConnection("bob", "c1", CreateTestProbe().Ref));
        bob.Tell(new RegisterConnection("bob", "c2", CreateTestProbe().Ref));

        bob.Tell(new UpdateRooms("bob", "c1", ["lobby", "games"]));
        bob.Tell(new UpdateRooms("bob", "c2", ["lobby"]));

        var status = StatusOf(bob);
        Assert.Equal("bob", status.UserId);
        Assert.True(status.Online);
        Assert.Equal(2, status.Connections);
        Assert.Equal(["games", "lobby"], status.Rooms); // distinct, sorted
    }

    [Fact]
    public void Disconnect_closes_every_connection_of_the_user_with_the_code_and_reports_how_many()
    {
        var bob = NewUser();
        var (phone, laptop) = (CreateTestProbe(), CreateTestProbe());
        bob.Tell(new RegisterConnection("bob", "c1", phone.Ref));
        bob.Tell(new RegisterConnection("bob", "c2", laptop.Ref));
        var api = CreateTestProbe();

        bob.Tell(new DisconnectUser("bob", Close.Disconnected), api.Ref);

        var expected = new ConnectionCommands.CloseConnection(Close.Disconnected.Code, Close.Disconnected.Reason);
        Assert.Equal(expected, phone.ExpectMsg<ConnectionCommands.CloseConnection>());
        Assert.Equal(expected, laptop.ExpectMsg<ConnectionCommands.CloseConnection>());
        Assert.Equal(new UserDisconnected("bob", 2), api.ExpectMsg<UserDisconnected>());
        Assert.False(StatusOf(bob).Online); // forgotten at once, not when the sockets report back
    }

    [Fact]
    public void Disconnecting_an_offline_user_closes_nothing()
    {
        var bob = NewUser();
        var api = CreateTestProbe();

        bob.Tell(new DisconnectUser("bob", Close.DisconnectedForbidden), api.Ref);

        Assert.Equal(new UserDisconnected("bob", 0), api.ExpectMsg<UserDisconnected>());
    }

    [Fact]
    public void A_connection_registered_after_a_disconnect_is_served()
    {
        var bob = NewUser();
        var (old, reconnected) = (CreateTestProbe(), CreateTestProbe());
        bob.Tell(new RegisterConnection("bob", "c1", old.Ref));
        bob.Tell(new DisconnectUser("bob", Close.Disconnected), CreateTestProbe().Ref);
        old.ExpectMsg<ConnectionCommands.CloseConnection>();

        bob.Tell(new RegisterConnection("bob", "c2", reconnected.Ref));
        bob.Tell(new UnregisterConnection("bob", "c1")); // the old socket's late goodbye

        Assert.Equal(1, StatusOf(bob).Connections);
    }

    [Fact]
    public void A_user_nobody_registered_is_offline()
    {
        var status = StatusOf(NewUser("ghost"), "ghost");

        Assert.Equal("ghost", status.UserId);
        Assert.False(status.Online);
        Assert.Equal(0, status.Connections);
        Assert.Empty(status.Rooms);
    }

    [Fact]
    public void Rooms_of_an_unknown_connection_are_ignored()
    {
        var bob = NewUser();

        bob.Tell(new UpdateRooms("bob", "c9", ["lobby"]));

        Assert.Empty(StatusOf(bob).Rooms);
    }

    [Fact]
    public void An_idle_user_without_connections_asks_its_shard_to_passivate_it()
    {
        var shard = CreateTestProbe();

        shard.ChildActorOf(UserActor.Props("bob", TimeSpan.FromMilliseconds(200)));

        shard.ExpectMsg<Passivate>(TimeSpan.FromSeconds(3));
    }

    // ---- Broker:Limits:MaxConnectionsPerUser ----

    [Fact]
    public void A_new_connection_past_the_users_cap_is_refused_and_not_counted()
    {
        var bob = NewUser();
        var hub = CreateTestProbe();
        bob.Tell(new RegisterConnection("bob", "c1", CreateTestProbe().Ref, Confirm: true, Limit: 2), hub.Ref);
        bob.Tell(new RegisterConnection("bob", "c2", CreateTestProbe().Ref, Confirm: true, Limit: 2), hub.Ref);
        hub.ExpectMsg<ConnectionRegistered>();
        hub.ExpectMsg<ConnectionRegistered>();

        bob.Tell(new RegisterConnection("bob", "c3", CreateTestProbe().Ref, Confirm: true, Limit: 2), hub.Ref);

        Assert.Equal(new ConnectionRefused("bob", "c3", 2), hub.ExpectMsg<ConnectionRefused>());
        Assert.Equal(2, StatusOf(bob).Connections);
    }

    [Fact]
    public void A_connection_registered_again_is_never_refused_even_past_the_cap()
    {
        var bob = NewUser();
        var hub = CreateTestProbe();
        var phone = CreateTestProbe();
        bob.Tell(new RegisterConnection("bob", "c1", phone.Ref, Confirm: true, Limit: 1), hub.Ref);
        hub.ExpectMsg<ConnectionRegistered>();

        // A repeat of a known connection, even one that still carries the limit, and a connection
        // from another node registered again after the entry moved (no limit): both stay.
        bob.Tell(new RegisterConnection("bob", "c1", phone.Ref, Confirm: true, Limit: 1), hub.Ref);
        bob.Tell(new RegisterConnection("bob", "c2", CreateTestProbe().Ref, Confirm: true), hub.Ref);

        Assert.Equal("c1", hub.ExpectMsg<ConnectionRegistered>().ConnectionId);
        Assert.Equal("c2", hub.ExpectMsg<ConnectionRegistered>().ConnectionId);
        Assert.Equal(2, StatusOf(bob).Connections);
    }

    [Fact]
    public void Once_a_connection_ends_a_new_one_fits_under_the_cap_again()
    {
        var bob = NewUser();
        var hub = CreateTestProbe();
        var phone = CreateTestProbe();
        bob.Tell(new RegisterConnection("bob", "c1", phone.Ref, Confirm: true, Limit: 1), hub.Ref);
        hub.ExpectMsg<ConnectionRegistered>();
        bob.Tell(new RegisterConnection("bob", "c2", CreateTestProbe().Ref, Confirm: true, Limit: 1), hub.Ref);
        hub.ExpectMsg<ConnectionRefused>();

        Sys.Stop(phone.Ref); // watched: a crashed connection frees its place too
        AwaitAssert(() => Assert.Equal(0, StatusOf(bob).Connections), TimeSpan.FromSeconds(3));
        bob.Tell(new RegisterConnection("bob", "c3", CreateTestProbe().Ref, Confirm: true, Limit: 1), hub.Ref);

        Assert.Equal("c3", hub.ExpectMsg<ConnectionRegistered>().ConnectionId);
    }
}
