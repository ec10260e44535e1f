using Broker.Tests.Infrastructure;
using Xunit;

namespace Broker.Tests.Client;

/// <summary>A broker with default settings for the .NET client's integration tests.</summary>
public sealed class ClientHostFixture : IAsyncLifetime
{
    public BrokerTestHost Host { get; private set; } = null!;

    public async Task InitializeAsync() => Host = await BrokerTestHost.StartAsync();

    public async Task DisposeAsync() => await Host.DisposeAsync();
}

/// <summary>A broker that pings every second and gives up after one more: heartbeat tests without long waits.</summary>
public sealed class FastHeartbeatHostFixture : IAsyncLifetime
{
    public BrokerTestHost Host { get; private set; } = null!;

    public async Task InitializeAsync() => Host = await BrokerTestHost.StartAsync(new Dictionary<string, string?>
    {
        ["Broker:Heartbeat:Interval"] = "00:00:01",
        ["Broker:Heartbeat:Timeout"] = "00:00:01",
    });

    public async Task DisposeAsync() => await Host.DisposeAsync();
}
