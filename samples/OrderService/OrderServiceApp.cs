using System.Collections.Concurrent;
using System.Security.Claims;
using System.Text;
using System.Text.Json;
using Broker.Actors.Handlers;
using Broker.Contracts.Protocol;
using Broker.AspNetCore.Auth;
using Broker.AspNetCore.Embedding;
using Broker.AspNetCore.Hosting;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.Tokens;

namespace OrderService;

/// <summary>An order service that pushes "your order changed" notifications to its customers over the embedded broker.</summary>
public static class OrderServiceApp
{
    /// <summary>Builds the app; <paramref name="configure"/> lets tests adjust the builder (URLs, configuration) first.</summary>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        configure?.Invoke(builder);

        // The app's own JWT bearer auth, configured from the "Jwt" section.
        var jwt = builder.Configuration.GetSection("Jwt");
        builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer(bearer =>
        {
            bearer.MapInboundClaims = false; // keep "sub" as "sub"
            bearer.TokenValidationParameters = new TokenValidationParameters
            {
                ValidIssuer = jwt["Issuer"],
                ValidAudience = jwt["Audience"],
                IssuerSigningKey = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(jwt["SigningKey"] ?? "")),
            };
        });
        builder.Services.AddAuthorization();
        builder.Services.AddSingleton<OrderStore>();

        // --- The broker: it validates tokens with the app's JwtBearer above, and serves "order.track" frames.
        builder.AddBroker(broker => broker.UseHostAuthentication());
        builder.AddBrokerMessageHandler<TrackOrderHandler>("order.track", "notifications");

        var app = builder.Build();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapBroker(); // /ws/notifications, /auth/*, /health/*

        app.MapPost("/orders", async (CreateOrder request, string? customer, ClaimsPrincipal caller, OrderStore store, IBrokerPublisher broker, CancellationToken ct) =>
        {
            var owner = caller.FindFirstValue("sub") ?? customer;
            if (string.IsNullOrWhiteSpace(owner)) return Results.BadRequest("customer is required (a bearer token or ?customer=)");
            var order = store.Add(owner, request.Item);
            await broker.SendToUserAsync(order.Customer, new { type = "order.created", order }, cancellationToken: ct);
            return Results.Created($"/orders/{order.Id}", order);
        });
        app.MapGet("/orders/{id}", (string id, OrderStore store) =>
            store.Find(id) is { } order ? Results.Ok(order) : Results.NotFound());
        app.MapPost("/orders/{id}/ship", async (string id, OrderStore store, IBrokerPublisher broker, CancellationToken ct) =>
        {
            if (store.SetStatus(id, "shipped") is not { } order) return Results.NotFound();
            await broker.SendToUserAsync(order.Customer, new { type = "order.shipped", order }, cancellationToken: ct);
            return Results.Ok(order);
        });
        return app;
    }
}

/// <summary>
/// <c>{"type":"order.track","id":"1","data":{"order":"o-1"}}</c> → <c>{"type":"order.status","id":"1","data":{order}}</c>,
/// for the order's customer only; anyone else gets <c>error not_found</c>, as for an unknown order.
/// </summary>
public sealed class TrackOrderHandler(OrderStore store) : IBrokerMessageHandler
{
    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);

    public ValueTask<HandlerReply?> HandleAsync(BrokerMessageContext context, JsonElement data, CancellationToken cancellationToken)
    {
        if (data.ValueKind != JsonValueKind.Object || !data.TryGetProperty("order", out var id) || id.ValueKind != JsonValueKind.String)
            return Reply(HandlerReply.Error(ErrorCodes.BadRequest, "order.track needs data {\"order\":\"<id>\"}"));
        if (store.Find(id.GetString()!) is not { } order || order.Customer != context.UserId)
            return Reply(HandlerReply.Error(ErrorCodes.NotFound, "no such order"));
        return Reply(HandlerReply.Of("order.status", JsonSerializer.SerializeToElement(order, Web)));
    }

    private static ValueTask<HandlerReply?> Reply(HandlerReply reply) => ValueTask.FromResult<HandlerReply?>(reply);
}

/// <summary>The body of <c>POST /orders</c>.</summary>
public sealed record CreateOrder(string Item);

/// <summary>An order.</summary>
public sealed record Order(string Id, string Customer, string Item, string Status);

/// <summary>Orders in memory; a real service would use its database.</summary>
public sealed class OrderStore
{
    private readonly ConcurrentDictionary<string, Order> _orders = new();
    private int _next;

    public Order Add(string customer, string item)
    {
        var order = new Order($"o-{Interlocked.Increment(ref _next)}", customer, item, "created");
        _orders[order.Id] = order;
        return order;
    }

    public Order? Find(string id) => _orders.GetValueOrDefault(id);

    public Order? SetStatus(string id, string status)
    {
        while (_orders.TryGetValue(id, out var current))
        {
            var updated = current with { Status = status };
            if (_orders.TryUpdate(id, updated, current)) return updated;
        }
        return null;
    }
}
