namespace Broker.Tests.Integration;

/// <summary>A host of its own, configured by the subclass; shared by the tests of one class.</summary>
public abstract class HostFixture : IAsyncLifetime
{
    public BrokerTestHost Host { get; private set; } = null!;

    /// <summary>Configuration overrides for this host.</summary>
    protected virtual IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>();

    /// <summary>The hosting environment; <c>Production</c> unless the tests need Development (the dev-token endpoint, the demo).</summary>
    protected virtual string Environment => "Production";

    /// <summary>What the app adds before <c>MapBroker</c>, as an embedding app might; nothing by default.</summary>
    protected virtual Action<Microsoft.AspNetCore.Builder.WebApplication>? BeforeBroker => null;

    public async Task InitializeAsync() => Host = await BrokerTestHost.StartAsync(Settings, Environment, beforeBroker: BeforeBroker);

    public virtual async Task DisposeAsync() => await Host.DisposeAsync();
}

/// <summary>The defaults, on a host of its own (for slow tests that should run beside the shared host).</summary>
public sealed class DefaultHostFixture : HostFixture;
