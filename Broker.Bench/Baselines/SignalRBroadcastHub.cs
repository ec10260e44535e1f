using System.Text;
using System.Text.Json;
using Broker.Bench.Infra;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.SignalR;
using Microsoft.IdentityModel.Tokens;

namespace Broker.Bench.Baselines;

/// <summary>
/// The peer users would pick instead: an ASP.NET Core SignalR hub (JSON protocol, WebSockets) with
/// group sends, authenticated with the same HS256 JWTs (<c>access_token</c> query, as SignalR
/// clients send it), keep-alive and client timeout set like the broker's heartbeat.
/// </summary>
[Authorize]
public sealed class SignalRBroadcastHub : Hub
{
    private static int _connections;

    public static int Connections => Volatile.Read(ref _connections);

    public Task Join(string room) => Groups.AddToGroupAsync(Context.ConnectionId, room);

    /// <summary>The payload travels as a JsonElement: SignalR serializes a group send once per protocol.</summary>
    public Task Publish(string room, JsonElement payload) => Clients.Group(room).SendAsync("m", payload);

    public override Task OnConnectedAsync()
    {
        Interlocked.Increment(ref _connections);
        return base.OnConnectedAsync();
    }

    public override Task OnDisconnectedAsync(Exception? exception)
    {
        Interlocked.Decrement(ref _connections);
        return base.OnDisconnectedAsync(exception);
    }

    public static void AddServices(IServiceCollection services, TimeSpan heartbeat)
    {
        services.AddSignalR(options =>
        {
            // SignalR's keep-alive is its heartbeat: ping every interval, drop a client silent for two.
            options.KeepAliveInterval = heartbeat;
            options.ClientTimeoutInterval = heartbeat * 2;
            options.EnableDetailedErrors = false;
        });
        services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer(options =>
        {
            options.MapInboundClaims = false;
            options.TokenValidationParameters = new TokenValidationParameters
            {
                ValidIssuer = BenchTokens.Issuer,
                ValidAudience = BenchTokens.Audience,
                IssuerSigningKey = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(BenchTokens.SigningKey)),
                ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
                NameClaimType = "sub",
            };
            options.Events = new JwtBearerEvents
            {
                OnMessageReceived = context =>
                {
                    if (context.Request.Path.StartsWithSegments("/hub"))
                        context.Token = context.Request.Query["access_token"];
                    return Task.CompletedTask;
                },
            };
        });
        services.AddAuthorization();
    }

    public static void Map(WebApplication app)
    {
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapHub<SignalRBroadcastHub>("/hub");
    }
}
