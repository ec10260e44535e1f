using System.Net;
using System.Net.Http.Json;
using Broker.AspNetCore.Embedding;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Broker.Tests.Embedding;

/// <summary>The sample order service, started for real: its REST endpoints notify the order's customer, and only them.</summary>
public sealed class OrderServiceSampleTests : IAsyncLifetime
{
    private OrderServiceHost _host = null!;
    private WebApplication _app = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        _host = await OrderServiceHost.StartAsync();
        (_app, _http) = (_host.App, _host.Http);
    }

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private Task<TestClient> ConnectAsync(string user) => _host.ConnectAsync(user);

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
        // One token for both: the app's JwtBearer checks it on /orders, and the broker, using that same scheme, on the socket.
        using var request = new HttpRequestMessage(HttpMethod.Post, "orders") { Content = JsonContent.Create(new { item = "lamp" }) };
        request.Headers.Authorization = new("Bearer", OrderServiceHost.AppToken("carol"));
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
        Assert.Equal(0, await publisher.BroadcastToRouteAsync("nobody-here", new { n = 1 }).OrTimeout());
        Assert.Equal(0, await publisher.SendToUserAsync("offline-user", new { n = 1 }).OrTimeout());
    }

    [Fact]
    public async Task A_customer_tracks_their_order_over_the_socket_and_nobody_else_can()
    {
        await using var erin = await ConnectAsync("erin");
        await using var frank = await ConnectAsync("frank");
        using var created = await _http.PostAsJsonAsync("orders?customer=erin", new { item = "kettle" });
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString();

        await erin.SendAsync("order.track", "t1", new System.Text.Json.Nodes.JsonObject { ["order"] = id });
        var status = await erin.ReceiveAsync("order.status", "t1");
        Assert.Equal("kettle", status.Data().GetProperty("item").GetString());

        // Someone else's order looks exactly like a missing one.
        await frank.SendAsync("order.track", "t2", new System.Text.Json.Nodes.JsonObject { ["order"] = id });
        var refused = await frank.ReceiveAsync("error", "t2");
        Assert.Equal("not_found", refused.ErrorCode());
        await frank.SendAsync("order.track", "t3", new System.Text.Json.Nodes.JsonObject { ["order"] = 42 });
        Assert.Equal("bad_request", (await frank.ReceiveAsync("error", "t3")).ErrorCode());
    }
}
