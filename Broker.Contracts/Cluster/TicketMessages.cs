namespace Broker.Contracts.Cluster;

/// <summary>Messages addressed to one handshake ticket; routed by <see cref="TicketId"/>.</summary>
public interface IWithTicketId : IClusterMessage
{
    string TicketId { get; }
}

/// <summary>Commands to the sharded ticket ledger, so a ticket issued on one node is redeemable on any.</summary>
public static class TicketCommands
{
    /// <summary>Keep a ticket until <paramref name="TicketExpiresAtMs"/>. Replies <see cref="TicketEvents.TicketStored"/>.</summary>
    /// <param name="CredentialExpiresAtMs">When the JWT behind the ticket expires (unix ms); the connection lives no longer.</param>
    public sealed record StoreTicket(string TicketId, string UserId, long CredentialExpiresAtMs, string ClientIp, long TicketExpiresAtMs) : IWithTicketId;

    /// <summary>Redeem once from <paramref name="ClientIp"/>. Replies <see cref="TicketEvents.TicketRedeemed"/>.</summary>
    public sealed record RedeemTicket(string TicketId, string ClientIp) : IWithTicketId;
}

/// <summary>Replies of the ticket ledger.</summary>
public static class TicketEvents
{
    /// <summary>The ticket is stored and may be handed to the client.</summary>
    public sealed record TicketStored(string TicketId) : IClusterMessage;

    /// <summary>The redemption's outcome: <paramref name="UserId"/> is null when unknown, used, expired or from another IP.</summary>
    /// <param name="TicketExpiresAtMs">When the ticket itself expired or expires, so the redeeming node can check it against its own clock too.</param>
    public sealed record TicketRedeemed(string TicketId, string? UserId, long CredentialExpiresAtMs, long TicketExpiresAtMs) : IClusterMessage;
}
