using System.Net.Http.Json;
using System.Text.Json;
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

    private BrokerTestHost? _host;

    public Uri BaseAddress { get; private set; } = null!;
    public HttpClient Http { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _host = await BrokerTestHost.StartAsync(new Dictionary<string, string?>
        {
            ["Broker:Rooms:HistorySize"] = HistorySize.ToString(),
            ["Broker:Limits:MaxRoomsPerConnection"] = MaxRoomsPerConnection.ToString(),
            ["Broker:ApiKey"] = ApiKey,
        }, environment: "Development");
        BaseAddress = _host.BaseUri;
        Http = _host.Http;
    }

    public async Task DisposeAsync()
    {
        if (_host is not null) await _host.DisposeAsync();
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
