using Broker.Actors.Auth;
using Broker.AspNetCore.Auth;

namespace Broker.Tests.Auth;

/// <summary>Handshake tickets (PROTOCOL §2): single use, short-lived, bound to the user and the client IP.</summary>
public sealed class TicketStoreTests
{
    private static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(30);
    private const string Ip = "203.0.113.7";

    private readonly ManualTimeProvider _clock = new();
    private readonly InMemoryTicketStore _store;
    private readonly AuthenticatedUser _alice;

    public TicketStoreTests()
    {
        _store = new InMemoryTicketStore(_clock, Lifetime);
        _alice = new AuthenticatedUser("alice", _clock.GetUtcNow() + TimeSpan.FromHours(1));
    }

    [Fact]
    public async Task Ticket_redeems_to_the_user_it_was_issued_for()
    {
        var ticket = await _store.IssueAsync(_alice, Ip);

        var redeemed = await _store.RedeemAsync(ticket, Ip);

        Assert.Equal(_alice, redeemed?.User);
    }

    [Fact]
    public async Task Ticket_is_single_use()
    {
        var ticket = await _store.IssueAsync(_alice, Ip);
        Assert.NotNull(await _store.RedeemAsync(ticket, Ip));

        Assert.Null(await _store.RedeemAsync(ticket, Ip));
        Assert.Equal(0, _store.Count);
    }

    [Fact]
    public async Task Ticket_is_valid_until_just_before_its_lifetime_ends()
    {
        var ticket = await _store.IssueAsync(_alice, Ip);

        _clock.Advance(Lifetime - TimeSpan.FromMilliseconds(1));

        Assert.NotNull(await _store.RedeemAsync(ticket, Ip));
    }

    [Fact]
    public async Task Expired_ticket_is_rejected()
    {
        var ticket = await _store.IssueAsync(_alice, Ip);

        _clock.Advance(Lifetime);

        Assert.Null(await _store.RedeemAsync(ticket, Ip));
    }

    [Fact]
    public async Task Ticket_from_another_ip_is_rejected_and_burnt()
    {
        var ticket = await _store.IssueAsync(_alice, Ip);

        Assert.Null(await _store.RedeemAsync(ticket, "198.51.100.1"));

        Assert.Null(await _store.RedeemAsync(ticket, Ip));
    }

    [Theory]
    [InlineData("")]
    [InlineData("not-a-ticket")]
    public async Task Unknown_ticket_is_rejected(string ticket) =>
        Assert.Null(await _store.RedeemAsync(ticket, Ip));

    [Fact]
    public async Task Tickets_are_unique_url_safe_and_carry_256_bits()
    {
        var tickets = new HashSet<string>();
        for (var i = 0; i < 100; i++) tickets.Add(await _store.IssueAsync(_alice, Ip));

        Assert.Equal(100, tickets.Count);
        Assert.All(tickets, t =>
        {
            Assert.Equal(43, t.Length); // 32 bytes, base64url without padding
            Assert.Matches("^[A-Za-z0-9_-]+$", t);
        });
    }

    [Fact]
    public async Task Expired_tickets_are_swept_as_new_ones_are_issued()
    {
        for (var i = 0; i < 200; i++) await _store.IssueAsync(_alice, Ip);
        _clock.Advance(Lifetime + TimeSpan.FromSeconds(1));

        for (var i = 0; i < 56; i++) await _store.IssueAsync(_alice, Ip); // the 256th issue sweeps

        Assert.Equal(56, _store.Count); // only the fresh ones are left
    }
}
