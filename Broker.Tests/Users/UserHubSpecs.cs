using Broker.Actors.Users;
using static Broker.Contracts.Cluster.UserCommands;
using static Broker.Contracts.Cluster.UserEvents;

namespace Broker.Tests.Users;

/// <summary>
/// The per-node <see cref="UserHub"/>, with a probe for the users shard region and probes for the
/// user's directory entry (whose death stands for its node's) and connections.
/// </summary>
public sealed class UserHubSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(3);
    private readonly TestProbe _region = null!;
    private readonly IActorRef _hub;

    public UserHubSpecs()
    {
        _region = CreateTestProbe("users-region");
        _hub = Sys.ActorOf(UserHub.Props(_region.Ref, retryInterval: TimeSpan.FromMilliseconds(300)));
    }

    /// <summary>Registers a connection and confirms it from <paramref name="entry"/>, as the directory does.</summary>
    private void RegisterAndConfirm(TestProbe entry, string connectionId, IActorRef connection, params string[] rooms)
    {
        _hub.Tell(new RegisterConnection("bob", connectionId, connection));
        var register = _region.ExpectMsg<RegisterConnection>();
        Assert.True(register.Confirm);
        _hub.Tell(new ConnectionRegistered("bob", connectionId), entry.Ref);
        if (rooms.Length == 0) return;
        _hub.Tell(new UpdateRooms("bob", connectionId, rooms));
        _region.ExpectMsg<UpdateRooms>();
    }

    [Fact]
    public void When_the_users_entry_dies_its_connections_here_are_registered_again_with_their_rooms()
    {
        var entry = CreateTestProbe();
        var (phone, laptop) = (CreateTestProbe(), CreateTestProbe());
        RegisterAndConfirm(entry, "c1", phone.Ref, "lobby");
        RegisterAndConfirm(entry, "c2", laptop.Ref);
        _region.ExpectNoMsg(TimeSpan.FromMilliseconds(500)); // confirmed: no repeats

        Sys.Stop(entry.Ref);

        var again = _region.ReceiveN(3, Wait);
        var registers = again.OfType<RegisterConnection>().ToArray();
        Assert.Equal([("c1", phone.Ref), ("c2", laptop.Ref)], registers.Select(r => (r.ConnectionId, r.Connection)).Order());
        Assert.Equal(["lobby"], again.OfType<UpdateRooms>().Single().Rooms);
    }

    [Fact]
    public void Registering_again_repeats_until_the_next_entry_confirms()
    {
        var entry = CreateTestProbe();
        RegisterAndConfirm(entry, "c1", CreateTestProbe().Ref);
        Sys.Stop(entry.Ref);
        _region.ExpectMsg<RegisterConnection>(Wait);

        _region.ExpectMsg<RegisterConnection>(Wait); // the first may have gone to the dead node
        _hub.Tell(new ConnectionRegistered("bob", "c1"), CreateTestProbe().Ref);

        _region.ReceiveWhile(TimeSpan.FromMilliseconds(300), m => m as RegisterConnection); // at most one already on its way
        _region.ExpectNoMsg(TimeSpan.FromMilliseconds(700));
    }

    [Fact]
    public void A_user_whose_connections_here_all_left_is_forgotten()
    {
        var entry = CreateTestProbe();
        RegisterAndConfirm(entry, "c1", CreateTestProbe().Ref);
        _hub.Tell(new UnregisterConnection("bob", "c1"));
        _region.ExpectMsg<UnregisterConnection>();

        Sys.Stop(entry.Ref);

        _region.ExpectNoMsg(TimeSpan.FromMilliseconds(500));
    }

    [Fact]
    public void A_send_is_answered_through_the_hub_and_status_questions_pass_through_with_their_sender()
    {
        var asker = CreateTestProbe();

        _hub.Tell(new SendToUser("bob", "alice", Frame.Json("1"), "s1"), asker.Ref);
        _hub.Tell(new GetUserStatus("bob"), asker.Ref);

        var send = _region.ExpectMsg<SendToUser>();
        Assert.Equal("s1", send.RequestId);
        Assert.Equal(_hub, _region.LastSender);
        _region.ExpectMsg<GetUserStatus>();
        Assert.Equal(asker.Ref, _region.LastSender);
        _hub.Tell(new DirectDelivered("s1", 2, send.Seq));
        Assert.Equal(new DirectDelivered("s1", 2), asker.ExpectMsg<DirectDelivered>());
    }

    [Fact]
    public void A_send_nobody_answers_in_time_is_reported_unanswered_once()
    {
        var hub = Sys.ActorOf(UserHub.Props(_region.Ref, answerTimeout: TimeSpan.FromMilliseconds(300)));
        var asker = CreateTestProbe();

        hub.Tell(new SendToUser("bob", "alice", Frame.Json("1"), "s1"), asker.Ref);
        var send = _region.ExpectMsg<SendToUser>();

        Assert.Equal("s1", asker.ExpectMsg<UserHub.SendUnanswered>(Wait).RequestId);
        hub.Tell(new DirectDelivered("s1", 1, send.Seq)); // too late: not answered twice
        asker.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public void A_refusal_is_passed_on_to_its_connection_which_is_never_registered_again()
    {
        var connection = CreateTestProbe();
        _hub.Tell(new RegisterConnection("bob", "c1", connection.Ref, Limit: 3));
        var register = _region.ExpectMsg<RegisterConnection>();
        Assert.Equal(3, register.Limit);

        _hub.Tell(new ConnectionRefused("bob", "c1", 3), CreateTestProbe().Ref);

        Assert.Equal("c1", connection.ExpectMsg<ConnectionRefused>().ConnectionId);
        _region.ExpectNoMsg(TimeSpan.FromMilliseconds(900)); // three retry intervals: nothing registers it again
    }

    [Fact]
    public void Connections_registered_again_after_their_entry_died_carry_no_limit_so_none_is_evicted()
    {
        var entry = CreateTestProbe();
        _hub.Tell(new RegisterConnection("bob", "c1", CreateTestProbe().Ref, Limit: 1));
        Assert.Equal(1, _region.ExpectMsg<RegisterConnection>().Limit);
        _hub.Tell(new ConnectionRegistered("bob", "c1"), entry.Ref);

        Sys.Stop(entry.Ref);

        var again = _region.ExpectMsg<RegisterConnection>(Wait);
        Assert.Equal(("c1", 0, true), (again.ConnectionId, again.Limit, again.Confirm));
    }
}
