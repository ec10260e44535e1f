using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using Akka.Dispatch.MessageQueues;

namespace Broker.Actors.Dispatch;

/// <summary>
/// The mailbox type that gives an actor a <see cref="SingleConsumerMessageQueue"/>. Named in HOCON
/// (<c>broker.connection-mailbox</c>) and chosen per actor with <c>Props.WithMailbox</c>.
/// </summary>
/// <remarks>
/// Akka creates it by reflection with exactly this constructor. <see cref="IProducesMessageQueue{TQueue}"/>
/// lets Akka check a dispatcher's or actor's queue requirement against what this produces: an actor
/// with a stash (it needs a deque) is refused with an error naming the unmet requirement, instead
/// of one saying Akka cannot tell what the queue is.
/// </remarks>
public sealed class SingleConsumerUnboundedMailbox(Settings settings, Config config)
    : MailboxType(settings, config), IProducesMessageQueue<SingleConsumerMessageQueue>
{
    public override IMessageQueue Create(IActorRef owner, ActorSystem system) => new SingleConsumerMessageQueue();
}
