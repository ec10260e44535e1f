using Broker.Actors.Auth;
using Broker.AspNetCore.Auth;
using Broker.Tests.Infrastructure;
using Xunit;

namespace Broker.Tests.Integration;

/// <summary>
/// The ticket rules that loopback cannot exercise end to end (every test client is 127.0.0.1),
/// checked on the store the host uses.
/// </summary>
public sealed class TicketStoreTests
{
    private static readonly AuthenticatedUser Alice = new("alice", DateTimeOffset.UtcNow.AddHours(1));

    [Fact]
    public async Task Ticket_presented_from_another_ip_is_refused_and_burnt()
    {
        var store = new InMemoryTicketStore(TimeProvider.System, TimeSpan.FromSeconds(30));
        var ticket = await store.IssueAsync(Alice, "127.0.0.1");

        Assert.Null(await store.RedeemAsync(ticket, "127.0.0.2"));
        Assert.Null(await store.RedeemAsync(ticket, "127.0.0.1"));
    }

    [Fact]
    public async Task Ticket_redeems_once_from_the_ip_it_was_issued_to()
    {
        var store = new InMemoryTicketStore(TimeProvider.System, TimeSpan.FromSeconds(30));
        var ticket = await store.IssueAsync(Alice, "127.0.0.1");

        var redeemed = await store.RedeemAsync(ticket, "127.0.0.1");

        Assert.Equal(Alice, redeemed?.User);
        Assert.Null(await store.RedeemAsync(ticket, "127.0.0.1"));
    }

    [Fact]
    public async Task Ticket_is_refused_once_its_lifetime_has_passed()
    {
        var clock = new AdjustableTimeProvider();
        var store = new InMemoryTicketStore(clock, TimeSpan.FromSeconds(30));
        var ticket = await store.IssueAsync(Alice, "127.0.0.1");

        clock.Advance(TimeSpan.FromSeconds(30));

        Assert.Null(await store.RedeemAsync(ticket, "127.0.0.1"));
    }
}
