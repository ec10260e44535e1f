using Broker.Contracts.Protocol;
using Broker.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace Broker.Tests.Integration;

/// <summary>
/// The upgrade is done but no connection actor can be started (here: the node's connection
/// supervisor is gone, so the Accept is never answered). The client must get a close, the request
/// must end and the socket must not stay tracked for shutdown to wait on.
/// </summary>
public sealed class AcceptFailureTests
{
    [Fact]
    public async Task A_socket_no_connection_actor_takes_is_closed_1011_and_its_request_ends()
    {
        // A short Broker:Limits:AskTimeout: the close must come after it, not after the 5 s default.
        await using var host = await BrokerTestHost.StartAsync(new Dictionary<string, string?> { ["Broker:Limits:AskTimeout"] = "00:00:01" });
        var node = host.Services.GetRequiredService<BrokerNode>();
        Assert.True(await node.Connections.GracefulStop(TimeSpan.FromSeconds(10)));
        string[] tags = ["route=chat", "code=1011", "reason=internal"];
        var before = await ScrapeAsync(host);

        await using var client = await TestClient.ConnectAsync(host.WebSocketUri("chat"));

        // The Accept times out after the configured second; then the close handshake.
        var closed = await client.ExpectCloseAsync(TimeSpan.FromSeconds(4));
        Assert.Equal((Close.Internal.Code, Close.Internal.Reason), (closed.Status, closed.Description));
        // The request went on past the socket: its close was counted, and the node no longer tracks it.
        await Eventually.TrueAsync(
            async () => (await ScrapeAsync(host)).Sum("broker_connections_closed_total", tags) - before.Sum("broker_connections_closed_total", tags) >= 1,
            "the failed accept's close was never counted: the request did not end");
        await Eventually.TrueAsync(() => node.OpenSockets == 0, "the socket stayed tracked");
    }

    private static async Task<Broker.Tests.Observability.PrometheusScrape> ScrapeAsync(BrokerTestHost host)
    {
        using var response = await host.Http.GetAsync("metrics");
        response.EnsureSuccessStatusCode();
        return Broker.Tests.Observability.PrometheusScrape.Parse(await response.Content.ReadAsStringAsync());
    }
}
