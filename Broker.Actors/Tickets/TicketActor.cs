using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Cluster.Sharding;
using Akka.Hosting;
using Broker.Actors.Sharding;
using static Broker.Contracts.Cluster.TicketCommands;
using static Broker.Contracts.Cluster.TicketEvents;

namespace Broker.Actors.Tickets;

/// <summary>
/// One handshake ticket, a sharded entity: the single place that decides whether it was used, so
/// "single use" holds cluster-wide. It passivates itself at expiry, and is burnt by any redemption
/// attempt, right or wrong IP.
/// </summary>
public sealed class TicketActor : ReceiveActor
{
    /// <summary>How long a redeemed ticket stays as a tombstone, so a replay right after is still refused here.</summary>
    public static readonly TimeSpan DefaultTombstone = TimeSpan.FromSeconds(30);

    private StoreTicket? _ticket;
    private bool _spent;

    /// <param name="tombstone">How long a redeemed ticket is remembered; <see cref="DefaultTombstone"/> when null.</param>
    public TicketActor(string ticketId, TimeSpan? tombstone = null)
    {
        var remembered = tombstone ?? DefaultTombstone;
        Receive<StoreTicket>(store =>
        {
            if (_ticket is null && !_spent)
            {
                _ticket = store;
                var ttl = DateTimeOffset.FromUnixTimeMilliseconds(store.TicketExpiresAtMs) - Context.System.Scheduler.Now;
                Context.SetReceiveTimeout(ttl > TimeSpan.Zero ? ttl : TimeSpan.FromMilliseconds(1));
            }
            Sender.Tell(new TicketStored(store.TicketId));
        });
        Receive<RedeemTicket>(redeem =>
        {
            var ticket = _ticket;
            var valid = ticket is not null && !_spent
                        && ticket.ClientIp == redeem.ClientIp
                        && Context.System.Scheduler.Now.ToUnixTimeMilliseconds() < ticket.TicketExpiresAtMs;
            _spent = true;
            _ticket = null;
            Sender.Tell(valid
                ? new TicketRedeemed(ticketId, ticket!.UserId, ticket.CredentialExpiresAtMs, ticket.TicketExpiresAtMs)
                : new TicketRedeemed(ticketId, null, 0, 0));
            // Stay a little while as a tombstone, so a replay right after is still refused here.
            Context.SetReceiveTimeout(remembered);
        });
        Receive<ReceiveTimeout>(_ => Context.Parent.Tell(new Passivate(PoisonPill.Instance)));
    }

    public static Props Props(string ticketId, TimeSpan? tombstone = null) => Akka.Actor.Props.Create(() => new TicketActor(ticketId, tombstone));
}

/// <summary>Registers the ticket ledger with Akka.Hosting.</summary>
public static class TicketActorHostingExtensions
{
    /// <summary>The handshake ticket ledger's shard region.</summary>
    /// <param name="tombstone">How long a redeemed ticket is remembered; <see cref="TicketActor.DefaultTombstone"/> when null.</param>
    public static AkkaConfigurationBuilder AddTicketActor(this AkkaConfigurationBuilder akka, TimeSpan? tombstone = null, string role = "broker") =>
        akka.WithShardRegion<TicketActor>("tickets", ticketId => TicketActor.Props(ticketId, tombstone), new TicketMessageExtractor(),
            BrokerShardOptions.For(role));
}
