namespace Broker.Tests.Integration;

/// <summary>PROTOCOL §6: a node that is going away closes its sockets with 1001 so clients reconnect elsewhere.</summary>
public sealed class GracefulShutdownTests
{
    [Fact]
    public async Task Stopping_the_host_closes_every_open_socket_with_1001()
    {
        await using var host = await BrokerTestHost.StartAsync(new Dictionary<string, string?>
        {
            ["Broker:Routes:public:Anonymous"] = "true",
        });
        await using var authenticated = await host.ConnectAuthenticatedAsync("shutdown-alice");
        await using var anonymous = await TestClient.ConnectAsync(host.WebSocketUri("public"));
        Assert.Equal("welcome", (await anonymous.ReceiveAsync()).Type());
        await using var pending = await TestClient.ConnectAsync(host.WebSocketUri("chat")); // not yet authenticated

        await host.StopAsync().WaitAsync(TimeSpan.FromSeconds(30));

        foreach (var client in new[] { authenticated, anonymous, pending })
        {
            var close = await client.ExpectCloseAsync();
            Assert.True(close.Status == 1001, close.ToString());
            Assert.Equal("node shutting down", close.Description);
        }
    }
}
