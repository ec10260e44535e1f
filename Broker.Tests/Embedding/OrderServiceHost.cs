using Broker.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OrderService;

namespace Broker.Tests.Embedding;

/// <summary>The sample order service started for real on a random loopback port, and tokens its own JwtBearer accepts.</summary>
public sealed class OrderServiceHost : IAsyncDisposable
{
    public const string SigningKey = "order-service-tests-hs256-signing-key-0123456789";
    public const string Issuer = "orders";
    public const string Audience = "orders";

    private OrderServiceHost(WebApplication app, Uri baseUri)
    {
        App = app;
        BaseUri = baseUri;
        Http = new HttpClient { BaseAddress = baseUri, Timeout = TestClient.DefaultTimeout };
    }

    public WebApplication App { get; }
    public Uri BaseUri { get; }
    public HttpClient Http { get; }

    public static async Task<OrderServiceHost> StartAsync()
    {
        var app = OrderServiceApp.Build([], builder =>
        {
            builder.Environment.EnvironmentName = "Development";
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Jwt:Issuer"] = Issuer,
                ["Jwt:Audience"] = Audience,
                ["Jwt:SigningKey"] = SigningKey,
                ["Broker:Cluster:Hostname"] = "127.0.0.1",
                ["Broker:Cluster:Port"] = "0",
            });
        });
        using (var start = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            await app.StartAsync(start.Token);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var host = new OrderServiceHost(app, new Uri(address.TrimEnd('/') + "/"));
        await app.Services.GetRequiredService<Broker.AspNetCore.Hosting.BrokerNode>().Started.WaitAsync(TestClient.DefaultTimeout);
        return host;
    }

    /// <summary>A token as the app's own identity provider would issue it (the app's key, issuer and audience).</summary>
    public static string AppToken(string user, string issuer = Issuer, string key = SigningKey, IDictionary<string, object>? claims = null) =>
        TestTokens.Create(user, credentials: TestTokens.Hs256(key), issuer: issuer, audience: Audience, extraClaims: claims);

    /// <summary>Connects to <c>/ws/notifications</c> and authenticates with an app token for <paramref name="user"/>.</summary>
    public async Task<TestClient> ConnectAsync(string user)
    {
        var client = await TestClient.ConnectAsync(new Uri($"ws://{BaseUri.Authority}/ws/notifications"));
        await client.AuthenticateAsync(AppToken(user));
        return client;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        using (var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            await App.StopAsync(stop.Token);
        await App.DisposeAsync();
    }
}
