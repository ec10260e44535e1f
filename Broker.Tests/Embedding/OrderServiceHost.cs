using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using OrderService;

namespace Broker.Tests.Embedding;

/// <summary>The sample order service (its own app, built its own way) started by the one host builder, and tokens its own JwtBearer accepts.</summary>
public sealed class OrderServiceHost : IAsyncDisposable
{
    public const string SigningKey = "order-service-tests-hs256-signing-key-0123456789";
    public const string Issuer = "orders";
    public const string Audience = "orders";

    private readonly BrokerTestHost _host;

    private OrderServiceHost(BrokerTestHost host) => _host = host;

    public WebApplication App => _host.App;
    public Uri BaseUri => _host.BaseUri;
    public HttpClient Http => _host.Http;

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
        return new OrderServiceHost(await BrokerTestHost.StartAsync(app));
    }

    /// <summary>A token as the app's own identity provider would issue it (the app's key, issuer and audience).</summary>
    public static string AppToken(string user, string issuer = Issuer, string key = SigningKey, IDictionary<string, object>? claims = null) =>
        TestTokens.Create(user, credentials: TestTokens.Hs256(key), issuer: issuer, audience: Audience, extraClaims: claims);

    /// <summary>Connects to <c>/ws/notifications</c> and authenticates with an app token for <paramref name="user"/>.</summary>
    public Task<TestClient> ConnectAsync(string user) =>
        TestClient.ConnectAuthenticatedAsync(_host.WebSocketUri("notifications"), AppToken(user));

    public ValueTask DisposeAsync() => _host.DisposeAsync();
}
