using Microsoft.Extensions.DependencyInjection;

namespace Broker.Tests.Integration;

/// <summary>
/// One host for every test whose configuration is the defaults plus a few extra routes. Its
/// clock (used by the ticket store) can be moved forward to expire tickets without waiting.
/// </summary>
public sealed class SharedHostFixture : IAsyncLifetime
{
    /// <summary>A route that needs no authentication.</summary>
    public const string AnonymousRoute = "public";
    /// <summary>A route that only accepts <see cref="GoodOrigin"/> (and clients without an Origin).</summary>
    public const string GuardedRoute = "guarded";
    public const string GoodOrigin = "https://good.example";
    /// <summary>A route that only accepts ticket handshakes.</summary>
    public const string TicketOnlyRoute = "ticketed";
    /// <summary>A route that negotiates permessage-deflate.</summary>
    public const string CompressedRoute = "compressed";

    public ManualTimeProvider Clock { get; } = ManualTimeProvider.FollowingSystemClock();

    public BrokerTestHost Host { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Host = await BrokerTestHost.StartAsync(
            new Dictionary<string, string?>
            {
                ["Broker:Auth:Timeout"] = "00:00:01",
                [$"Broker:Routes:{AnonymousRoute}:Anonymous"] = "true",
                [$"Broker:Routes:{GuardedRoute}:AllowedOrigins:0"] = GoodOrigin,
                [$"Broker:Routes:{TicketOnlyRoute}:RequireTicket"] = "true",
                [$"Broker:Routes:{CompressedRoute}:Compression"] = "true",
                // Route-wide broadcast is opt-in (docs/security.md); several tests use it on chat as
                // their control stream. The anonymous route keeps the default, off.
                ["Broker:Routes:chat:AllowBroadcast"] = "true",
            },
            services: s => s.AddSingleton<TimeProvider>(Clock));
    }

    public async Task DisposeAsync() => await Host.DisposeAsync();
}

/// <summary>Tests on the shared host run one class at a time: route-wide broadcasts reach every client of the route.</summary>
[CollectionDefinition(Name)]
public sealed class SharedHostCollection : ICollectionFixture<SharedHostFixture>
{
    public const string Name = "shared host";
}
