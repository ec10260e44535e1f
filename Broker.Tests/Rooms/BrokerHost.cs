using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Broker.Host.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit;

namespace Broker.Tests.Rooms;

/// <summary>
/// The real broker host, in process on Kestrel at a free port, as one test class's fixture.
/// Configured for the room tests: a small history, two rooms per connection, and an API key.
/// </summary>
public sealed class BrokerHost : IAsyncLifetime
{
    public const string ApiKey = "rooms-tests-api-key-0123456789";
    public const int HistorySize = 3;
    public const int MaxRoomsPerConnection = 2;

    /// <summary>How long any single awaited step of a test may take.</summary>
    public static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(10);

    private WebApplication? _app;

    public Uri BaseAddress { get; private set; } = null!;
    public HttpClient Http { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Development" });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Broker:Rooms:HistorySize"] = HistorySize.ToString(),
            ["Broker:Limits:MaxRoomsPerConnection"] = MaxRoomsPerConnection.ToString(),
            ["Broker:ApiKey"] = ApiKey,
        });
        builder.Services.AddBroker(builder.Configuration, builder.Environment);
        _app = builder.Build();
        _app.MapBroker();

        using var startup = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await _app.StartAsync(startup.Token);
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        BaseAddress = new Uri(address);
        Http = new HttpClient { BaseAddress = BaseAddress, Timeout = StepTimeout };
        await WaitUntilReadyAsync(startup.Token);
    }

    /// <summary>Polls <c>/health/ready</c> until the node has joined its cluster of one.</summary>
    private async Task WaitUntilReadyAsync(CancellationToken deadline)
    {
        while (true)
        {
            using var response = await Http.GetAsync("/health/ready", deadline);
            if (response.StatusCode == HttpStatusCode.OK) return;
            await Task.Delay(TimeSpan.FromMilliseconds(50), deadline); // poll interval, bounded by the deadline
        }
    }

    public async Task DisposeAsync()
    {
        Http?.Dispose();
        if (_app is null) return;
        using var shutdown = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _app.StopAsync(shutdown.Token);
        await _app.DisposeAsync();
    }

    /// <summary>The WebSocket address of <paramref name="route"/>.</summary>
    public Uri WebSocketUri(string route = "chat") =>
        new UriBuilder(BaseAddress) { Scheme = "ws", Path = "/ws/" + route }.Uri;

    /// <summary>A development JWT for <paramref name="user"/>, optionally with scopes (space-separated).</summary>
    public async Task<string> TokenAsync(string user, string? scope = null)
    {
        var query = "?user=" + Uri.EscapeDataString(user) + (scope is null ? "" : "&scope=" + Uri.EscapeDataString(scope));
        using var response = await Http.PostAsync("/auth/dev-token" + query, content: null);
        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return body.GetProperty("token").GetString()!;
    }

    /// <summary>A unique room name, so tests sharing the host never share a room.</summary>
    public static string NewRoom(string prefix) => $"{prefix}-{Guid.NewGuid():N}";
}
