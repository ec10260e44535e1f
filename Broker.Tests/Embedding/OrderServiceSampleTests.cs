using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Broker.Host.Embedding;
using Broker.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OrderService;
using Xunit;

namespace Broker.Tests.Embedding;

/// <summary>The sample order service, started for real: its REST endpoints notify the order's customer, and only them.</summary>
public sealed class OrderServiceSampleTests : IAsyncLifetime
{
    private const string SigningKey = "order-service-tests-hs256-signing-key-0123456789";
    private WebApplication _app = null!;
    private HttpClient _http = null!;
    private Uri _base = null!;

    public async Task InitializeAsync()
    {
        _app = OrderServiceApp.Build([], builder =>
        {
            builder.Environment.EnvironmentName = "Development";
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Jwt:Issuer"] = "orders",
                ["Jwt:Audience"] = "orders",
                ["Jwt:SigningKey"] = SigningKey,
                ["Broker:Cluster:Hostname"] = "127.0.0.1",
                ["Broker:Cluster:Port"] = "0",
            });
        });
        using (var start = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            await _app.StartAsync(start.Token);
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        _base = new Uri(address.TrimEnd('/') + "/");
        _http = new HttpClient { BaseAddress = _base, Timeout = TestClient.DefaultTimeout };
        await _app.Services.GetRequiredService<Broker.Host.Hosting.BrokerNode>().Started.WaitAsync(TestClient.DefaultTimeout);
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        using (var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            await _app.StopAsync(stop.Token);
        await _app.DisposeAsync();
    }

    private async Task<string> DevTokenAsync(string user)
    {
        using var response = await _http.PostAsync($"auth/dev-token?user={user}", null);
        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return body.GetProperty("token").GetString()!;
    }

    private async Task<TestClient> ConnectAsync(string user)
    {
        var client = await TestClient.ConnectAsync(new Uri($"ws://{_base.Authority}/ws/notifications"));
        await client.AuthenticateAsync(await DevTokenAsync(user));
        return client;
    }

    [Fact]
    public async Task Shipping_an_order_notifies_its_customer_and_nobody_else()
    {
        await using var alice = await ConnectAsync("alice");
        await using var bob = await ConnectAsync("bob");

        using var created = await _http.PostAsJsonAsync("orders?customer=alice", new { item = "book" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var order = await created.Content.ReadFromJsonAsync<JsonElement>();
        var id = order.GetProperty("id").GetString();

        var createdNote = (await alice.ReceiveAsync("direct")).Data();
        Assert.Equal("server", createdNote.GetProperty("from").GetString());
        Assert.Equal("order.created", createdNote.GetProperty("payload").GetProperty("type").GetString());

        using var shipped = await _http.PostAsync($"orders/{id}/ship", null);
        Assert.Equal(HttpStatusCode.OK, shipped.StatusCode);

        var shippedNote = (await alice.ReceiveAsync("direct")).Data().GetProperty("payload");
        Assert.Equal("order.shipped", shippedNote.GetProperty("type").GetString());
        Assert.Equal(id, shippedNote.GetProperty("order").GetProperty("id").GetString());
        Assert.Equal("alice", shippedNote.GetProperty("order").GetProperty("customer").GetString());
        Assert.Equal("shipped", shippedNote.GetProperty("order").GetProperty("status").GetString());

        // Bob's next frame is the pong to his own ping: no direct came before it.
        var pingId = bob.NextId("ping");
        await bob.SendAsync("ping", pingId);
        var next = await bob.ReceiveAsync();
        Assert.Equal("pong", next.Type());
        Assert.Equal(pingId, next.Id());
    }

    [Fact]
    public async Task The_customer_comes_from_the_apps_own_bearer_token()
    {
        await using var carol = await ConnectAsync("carol");
        // The broker's dev token is accepted by the app's JwtBearer: both read the "Jwt" section.
        using var request = new HttpRequestMessage(HttpMethod.Post, "orders") { Content = JsonContent.Create(new { item = "lamp" }) };
        request.Headers.Authorization = new("Bearer", await DevTokenAsync("carol"));
        using var response = await _http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);

        var note = (await carol.ReceiveAsync("direct")).Data().GetProperty("payload");
        Assert.Equal("carol", note.GetProperty("order").GetProperty("customer").GetString());
    }

    [Fact]
    public async Task Publisher_reaches_room_members_and_the_whole_route()
    {
        await using var dave = await ConnectAsync("dave");
        await dave.SendAsync("join", "j1", new System.Text.Json.Nodes.JsonObject { ["room"] = "orders.dave" });
        await dave.ReceiveAsync("joined", "j1");
        var publisher = _app.Services.GetRequiredService<IBrokerPublisher>();

        var offset = await publisher.PublishToRoomAsync("orders.dave", new { n = 1 });
        var message = (await dave.ReceiveAsync("message")).Data();
        Assert.Equal("orders.dave", message.GetProperty("room").GetString());
        Assert.Equal(offset, message.GetProperty("offset").GetInt64());
        Assert.Equal(1, message.GetProperty("payload").GetProperty("n").GetInt32());

        var routeOffset = await publisher.BroadcastToRouteAsync("notifications", new { maintenance = true });
        var broadcast = (await dave.ReceiveAsync("message")).Data();
        Assert.Equal(JsonValueKind.Null, broadcast.GetProperty("room").ValueKind);
        Assert.Equal(routeOffset, broadcast.GetProperty("offset").GetInt64());
        Assert.True(broadcast.GetProperty("payload").GetProperty("maintenance").GetBoolean());
    }

    [Fact]
    public async Task Publisher_refuses_an_invalid_room_and_answers_at_once_for_an_empty_route()
    {
        var publisher = _app.Services.GetRequiredService<IBrokerPublisher>();
        await Assert.ThrowsAsync<ArgumentException>(() => publisher.PublishToRoomAsync("bad room!", new { n = 1 }));
        await Assert.ThrowsAsync<ArgumentException>(() => publisher.SendToUserAsync("", new { n = 1 }));
        Assert.Equal(0, await publisher.BroadcastToRouteAsync("nobody-here", new { n = 1 }).WaitAsync(TestClient.DefaultTimeout));
        Assert.Equal(0, await publisher.SendToUserAsync("offline-user", new { n = 1 }).WaitAsync(TestClient.DefaultTimeout));
    }
}
