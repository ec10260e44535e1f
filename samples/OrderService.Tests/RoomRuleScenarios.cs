using Akka.Actor;
using Akka.TestKit;
using Broker.Actors.Connections;
using Broker.Actors.Rooms;
using Broker.Contracts.Cluster;
using Broker.Contracts.Protocol;
using Broker.TestKit;
using Xunit;

namespace OrderService.Tests;

/// <summary>
/// An application's room rules (<see cref="IRoomAuthorizer"/>) decide on the user's connection
/// before a join or publish leaves the node. A pattern to copy for testing your own rules: the
/// rules are a plain class, the connection a real actor over a <see cref="ProbeTransport"/>, and the
/// room tier a probe that shows what would have left the node. (Custom message types:
/// <see cref="CustomHandlerScenarios"/>.)
/// </summary>
public sealed class RoomRuleScenarios : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);

    /// <summary>Example rules: only "boss" may join <c>vip</c>; nobody but "boss" publishes to <c>announcements</c>.</summary>
    private sealed class ExampleRules : IRoomAuthorizer
    {
        public ValueTask<bool> MayJoinAsync(string userId, string room, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(room != "vip" || userId == "boss");

        public ValueTask<bool> MayPublishAsync(string userId, string room, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(room != "announcements" || userId == "boss");
    }

    private async Task<(ProbeTransport Transport, TestProbe Hub)> ConnectAsync(string user)
    {
        var hub = CreateTestProbe("hub");
        var transport = await this.StartConnectionAsync(new ConnectionServices(hub.Ref, CreateTestProbe("users").Ref, new ExampleRules()),
            user, timeout: Timeout);
        return (transport, hub);
    }

    [Fact]
    public async Task A_join_the_rules_refuse_gets_forbidden_and_never_reaches_the_room()
    {
        var (transport, hub) = await ConnectAsync("alice");
        await transport.SendTextAsync("""{"type":"join","id":"j1","data":{"room":"vip"}}""", Timeout);
        var error = await transport.ExpectFrameAsync(FrameTypes.Error, Timeout);
        Assert.Equal("forbidden", error.GetProperty("data").GetProperty("code").GetString());
        Assert.Equal("j1", error.GetProperty("id").GetString());
        await hub.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public async Task A_join_the_rules_allow_goes_to_the_room()
    {
        var (transport, hub) = await ConnectAsync("boss");
        await transport.SendTextAsync("""{"type":"join","id":"j1","data":{"room":"vip"}}""", Timeout);
        // The connection hands the node's hub its socket with the join (the hub queues room frames on it).
        var join = (await hub.ExpectMsgAsync<RoomHub.LocalJoin>(Timeout)).Join;
        Assert.Equal(("vip", "boss"), (join.RoomId, join.UserId));
    }

    [Fact]
    public async Task A_publish_the_rules_refuse_gets_forbidden_while_the_member_stays_in_the_room()
    {
        var (transport, hub) = await ConnectAsync("alice");
        await transport.SendTextAsync("""{"type":"join","data":{"room":"announcements"}}""", Timeout);
        await hub.ExpectMsgAsync<RoomHub.LocalJoin>(Timeout);
        await transport.SendTextAsync("""{"type":"publish","id":"p1","data":{"room":"announcements","payload":1}}""", Timeout);
        var error = await transport.ExpectFrameAsync(FrameTypes.Error, Timeout);
        Assert.Equal("forbidden", error.GetProperty("data").GetProperty("code").GetString());
        await hub.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(200));

        await transport.SendTextAsync("""{"type":"ping","id":"still"}""", Timeout);
        Assert.Equal("still", (await transport.ExpectFrameAsync(FrameTypes.Pong, Timeout)).GetProperty("id").GetString());
    }
}
