using Broker.Actors.Rooms;
using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Broker.Tests.Sse;

/// <summary>
/// The SSE tests' host: the defaults, an anonymous route, a route guarded by Origin, room rules
/// that refuse <c>private-*</c> rooms, and a second Kestrel port speaking h2c (HTTP/2 with prior knowledge).
/// </summary>
public sealed class SseHostFixture : IAsyncLifetime
{
    public const string AnonymousRoute = "open";
    public const string GuardedRoute = "guarded";
    public const string GoodOrigin = "https://good.example";
    /// <summary>Rooms whose name starts with this are refused by the room rules (<c>error forbidden</c>).</summary>
    public const string RefusedPrefix = "private-";

    public BrokerTestHost Host { get; private set; } = null!;

    public async Task InitializeAsync() => Host = await BrokerTestHost.StartAsync(
        new Dictionary<string, string?>
        {
            [$"Broker:Routes:{AnonymousRoute}:Anonymous"] = "true",
            [$"Broker:Routes:{GuardedRoute}:AllowedOrigins:0"] = GoodOrigin,
        },
        services: services =>
        {
            services.AddSingleton<IRoomAuthorizer>(new RefusePrefix(RefusedPrefix));
            // Cleartext HTTP/2 is prior knowledge only, on an endpoint that speaks nothing else: a second port.
            // Endpoints set in code replace the host's URL, so the HTTP/1.1 one is listed again, first.
            services.Configure<KestrelServerOptions>(kestrel =>
            {
                kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http1);
                kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2);
            });
        });

    /// <summary>The h2c (prior knowledge) endpoint's base address.</summary>
    public Uri Http2BaseUri => Host.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
        .Select(address => new Uri(address.TrimEnd('/') + "/"))
        .Single(uri => uri != Host.BaseUri);

    public async Task DisposeAsync() => await Host.DisposeAsync();

    private sealed class RefusePrefix(string prefix) : IRoomAuthorizer
    {
        public ValueTask<bool> MayJoinAsync(string userId, string room, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(!room.StartsWith(prefix, StringComparison.Ordinal));

        public ValueTask<bool> MayPublishAsync(string userId, string room, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(true);
    }
}
