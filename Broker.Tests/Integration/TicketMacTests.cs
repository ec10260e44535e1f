using System.Net;
using Akka.Cluster.Sharding;
using Broker.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace Broker.Tests.Integration;

/// <summary>
/// Tickets carry a MAC: a garbage or tampered one is refused with 401 on the node it reaches,
/// without creating an entry in the cluster-wide ticket ledger (anyone can send <c>?ticket=</c>).
/// </summary>
public sealed class TicketMacTests : IAsyncLifetime
{
    private BrokerTestHost _host = null!;

    public async Task InitializeAsync() => _host = await BrokerTestHost.StartAsync();

    public async Task DisposeAsync() => await _host.DisposeAsync();

    /// <summary>The ticket ids the sharded ledger holds an entity for right now.</summary>
    private async Task<HashSet<string>> LedgerEntriesAsync()
    {
        var tickets = _host.Services.GetRequiredService<BrokerNode>().Tickets;
        var state = await tickets.Ask<CurrentShardRegionState>(GetShardRegionState.Instance, TimeSpan.FromSeconds(10));
        return state.Shards.SelectMany(s => s.EntityIds).ToHashSet(StringComparer.Ordinal);
    }

    private Task<HttpStatusCode> HandshakeAsync(string ticket) =>
        TestClient.ConnectExpectingRefusalAsync(_host.WebSocketUri("chat", "ticket=" + Uri.EscapeDataString(ticket)));

    /// <summary>The same ticket with one character changed at <paramref name="index"/>.</summary>
    private static string Flip(string ticket, int index) =>
        string.Concat(ticket.AsSpan(0, index), ticket[index] == 'A' ? "B" : "A", ticket.AsSpan(index + 1));

    [Fact]
    public async Task Garbage_and_tampered_tickets_get_401_without_a_ledger_entry_and_a_real_one_still_works_once()
    {
        var (ticket, _) = await TicketTests.IssueTicketAsync(_host, TestTokens.Valid("mac-holder"));
        var forged = new[]
        {
            "made-up-ticket",
            new string('A', ticket.Length), // right length and alphabet, no valid tag
            ticket[..^1] + "*", // outside the alphabet
            Flip(ticket, 3), // the random id changed: the tag no longer matches
            Flip(ticket, ticket.Length - 5), // the tag changed
        };

        foreach (var bad in forged)
            Assert.Equal(HttpStatusCode.Unauthorized, await HandshakeAsync(bad));

        var entries = await LedgerEntriesAsync();
        Assert.Contains(ticket, entries); // the issued one is there (so the ledger is what we look at)
        foreach (var bad in forged) Assert.DoesNotContain(bad, entries);

        await using (var client = await TestClient.ConnectAsync(_host.WebSocketUri("chat", "ticket=" + Uri.EscapeDataString(ticket))))
            Assert.Equal("welcome", (await client.ReceiveAsync()).Type());
        Assert.Equal(HttpStatusCode.Unauthorized, await HandshakeAsync(ticket)); // reuse is still refused
    }
}
