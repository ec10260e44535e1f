using Akka.Dispatch.MessageQueues;
using Broker.Actors.Connections;
using Broker.Actors.Dispatch;
using Xunit.Abstractions;
using static Broker.Actors.Connections.ConnectionMessages;
using static Broker.TestKit.ConnectionSpecDefaults;

namespace Broker.Tests.Dispatch;

/// <summary>
/// Which mailbox <see cref="ConnectionSupervisor"/> gives its connection actors: the light one when
/// <c>broker.connection-mailbox</c> is configured (as the host does), Akka's default otherwise.
/// </summary>
public sealed class ConnectionMailboxSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    private static readonly ConnectionSettings Settings = ProtocolDefaults;

    private const string Config = """
        broker.connection-mailbox.mailbox-type = "Broker.Actors.Dispatch.SingleConsumerUnboundedMailbox, Broker.Actors"
        akka.loglevel = INFO
        """;

    public ConnectionMailboxSpecs(ITestOutputHelper output) : base(Config, output: output) { }

    [Fact]
    public async Task Connections_get_the_configured_single_consumer_mailbox()
    {
        var connection = await AcceptOneAsync(Sys);

        Assert.IsType<SingleConsumerMessageQueue>(QueueOf(connection));
    }

    [Fact]
    public async Task Without_the_config_section_connections_keep_the_default_mailbox()
    {
        var bare = ActorSystem.Create("bare");
        try
        {
            var connection = await AcceptOneAsync(bare);

            Assert.IsType<UnboundedMessageQueue>(QueueOf(connection));
        }
        finally
        {
            await bare.Terminate().WaitAsync(Timeout);
        }
    }

    private async Task<IActorRef> AcceptOneAsync(ActorSystem system)
    {
        var supervisor = system.ActorOf(ConnectionSupervisor.Props(Settings, new FakeTokenValidator()), "connections");
        var transport = new ProbeTransport(CreateTestProbe(), CreateTestProbe());
        return await supervisor.Ask<IActorRef>(new Accept(new ConnectionInfo("c1", Lobby, "127.0.0.1", null), transport), Timeout);
    }

    private static IMessageQueue? QueueOf(IActorRef actor) =>
        ((ActorCell)((ActorRefWithCell)actor).Underlying).Mailbox?.MessageQueue;
}
