using Akka.Actor;
using Broker.Actors.Auth;
using Broker.Contracts.Cluster;
using Broker.AspNetCore.Hosting;

namespace Broker.AspNetCore.Auth;

/// <summary>
/// Tickets kept in the cluster's sharded ticket ledger (one <c>TicketActor</c> per ticket), so a
/// ticket issued on node A is redeemable on node B — behind a load balancer the two requests rarely
/// hit the same node. Issuing waits for the ledger's ack, so the ticket exists before the client has it.
/// </summary>
/// <remarks>Tickets carry a MAC (<see cref="TicketCodec"/>): one that fails it never reaches the ledger.</remarks>
public sealed class ClusterTicketStore(BrokerNode node, TimeProvider clock, TimeSpan lifetime, TicketCodec codec) : ITicketStore
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(5);

    public async ValueTask<string> IssueAsync(AuthenticatedUser user, string clientIp)
    {
        var ticket = codec.NewTicket();
        var expiresAt = clock.GetUtcNow() + lifetime;
        await node.Tickets.Ask<TicketEvents.TicketStored>(new TicketCommands.StoreTicket(
            ticket, user.UserId, user.ExpiresAt?.ToUnixTimeMilliseconds() ?? 0, clientIp, expiresAt.ToUnixTimeMilliseconds()), AskTimeout);
        return ticket;
    }

    public async ValueTask<TicketRedemption?> RedeemAsync(string ticket, string clientIp)
    {
        // Anyone can send ?ticket=<anything>: only a ticket this cluster issued costs a ledger entry.
        if (!codec.IsAuthentic(ticket)) return null;
        var redeemed = await node.Tickets.Ask<TicketEvents.TicketRedeemed>(new TicketCommands.RedeemTicket(ticket, clientIp), AskTimeout);
        if (redeemed.UserId is null || clock.GetUtcNow().ToUnixTimeMilliseconds() >= redeemed.TicketExpiresAtMs) return null;
        var expiresAt = redeemed.CredentialExpiresAtMs > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(redeemed.CredentialExpiresAtMs) : (DateTimeOffset?)null;
        return new TicketRedemption(new AuthenticatedUser(redeemed.UserId, expiresAt));
    }
}
