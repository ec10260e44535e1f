using System.Collections.Concurrent;
using System.Security.Cryptography;
using Broker.Actors.Auth;

namespace Broker.AspNetCore.Auth;

/// <summary>A redeemed ticket: who it was issued to.</summary>
public sealed record TicketRedemption(AuthenticatedUser User);

/// <summary>
/// One-time handshake tickets (PROTOCOL §2): single use, short-lived, bound to the user (and the
/// JWT expiry behind it) and the client IP. The interface is async so a cluster-wide store can
/// stand behind it (see docs/auth.md).
/// </summary>
public interface ITicketStore
{
    /// <summary>Issues a ticket for <paramref name="user"/> calling from <paramref name="clientIp"/>.</summary>
    ValueTask<string> IssueAsync(AuthenticatedUser user, string clientIp);

    /// <summary>Redeems a ticket exactly once; null when unknown, used, expired, or presented from another IP.</summary>
    ValueTask<TicketRedemption?> RedeemAsync(string ticket, string clientIp);
}

/// <summary>
/// The node-local ticket store: 256-bit random tickets in a concurrent map, removed on first use
/// (so a reused ticket is unknown), swept of expired entries as new ones are issued.
/// </summary>
public sealed class InMemoryTicketStore(TimeProvider clock, TimeSpan lifetime) : ITicketStore
{
    private readonly ConcurrentDictionary<string, Entry> _tickets = new(StringComparer.Ordinal);
    private long _issued;

    public ValueTask<string> IssueAsync(AuthenticatedUser user, string clientIp)
    {
        var ticket = Base64Url(RandomNumberGenerator.GetBytes(32));
        _tickets[ticket] = new Entry(user, clientIp, clock.GetUtcNow() + lifetime);
        if (Interlocked.Increment(ref _issued) % 256 == 0) Sweep();
        return ValueTask.FromResult(ticket);
    }

    public ValueTask<TicketRedemption?> RedeemAsync(string ticket, string clientIp)
    {
        // Removed whether or not the checks below pass: a ticket tried from the wrong IP is burnt.
        if (!_tickets.TryRemove(ticket, out var entry)) return ValueTask.FromResult<TicketRedemption?>(null);
        if (entry.ExpiresAt <= clock.GetUtcNow() || entry.ClientIp != clientIp)
            return ValueTask.FromResult<TicketRedemption?>(null);
        return ValueTask.FromResult<TicketRedemption?>(new TicketRedemption(entry.User));
    }

    /// <summary>Tickets currently held (tests and metrics).</summary>
    public int Count => _tickets.Count;

    private void Sweep()
    {
        var now = clock.GetUtcNow();
        foreach (var (key, entry) in _tickets)
            if (entry.ExpiresAt <= now) _tickets.TryRemove(key, out _);
    }

    private static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private sealed record Entry(AuthenticatedUser User, string ClientIp, DateTimeOffset ExpiresAt);
}
