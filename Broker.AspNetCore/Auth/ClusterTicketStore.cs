using Akka.Actor;
using Broker.Actors.Auth;
using Broker.AspNetCore.Configuration;
using Broker.AspNetCore.Hosting;
using Broker.Contracts.Cluster;

namespace Broker.AspNetCore.Auth;

/// <summary>
/// Tickets kept in the cluster's sharded ticket ledger (one <c>TicketActor</c> per ticket), so a
/// ticket issued on node A is redeemable on node B — behind a load balancer the two requests rarely
/// hit the same node. Issuing waits for the ledger's ack, so the ticket exists before the client has it.
/// </summary>
/// <remarks>Tickets carry a MAC (<see cref="TicketCodec"/>): one that fails it never reaches the ledger.</remarks>
/// <param name="options">Its <c>Auth:TicketLifetime</c> and <c>Limits:AskTimeout</c> (how long the ledger may take).</param>
public sealed class ClusterTicketStore(BrokerNode node, TimeProvider clock, BrokerOptions options, TicketCodec codec) : ITicketStore
{
    private readonly TimeSpan _lifetime = options.Auth.TicketLifetime;
    private readonly TimeSpan _askTimeout = options.Limits.AskTimeout;

    public async ValueTask<string> IssueAsync(AuthenticatedUser user, string clientIp)
    {
        var ticket = codec.NewTicket();
        var expiresAt = clock.GetUtcNow() + _lifetime;
        await node.Tickets.Ask<TicketEvents.TicketStored>(new TicketCommands.StoreTicket(
            ticket, user.UserId, user.ExpiresAt?.ToUnixTimeMilliseconds() ?? 0, clientIp, expiresAt.ToUnixTimeMilliseconds()), _askTimeout);
        return ticket;
    }

    public async ValueTask<TicketRedemption?> RedeemAsync(string ticket, string clientIp)
    {
        // Anyone can send ?ticket=<anything>: only a ticket this cluster issued costs a ledger entry.
        if (!codec.IsAuthentic(ticket)) return null;
        var redeemed = await node.Tickets.Ask<TicketEvents.TicketRedeemed>(new TicketCommands.RedeemTicket(ticket, clientIp), _askTimeout);
        if (redeemed.UserId is null || clock.GetUtcNow().ToUnixTimeMilliseconds() >= redeemed.TicketExpiresAtMs) return null;
        var expiresAt = redeemed.CredentialExpiresAtMs > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(redeemed.CredentialExpiresAtMs) : (DateTimeOffset?)null;
        return new TicketRedemption(new AuthenticatedUser(redeemed.UserId, expiresAt));
    }
}
