using System.Net.Http.Headers;
using System.Net.Http.Json;

namespace Broker.Tests.Observability;

/// <summary>The console's JSON endpoints as the tests call them: with the API key, a bearer token, or nothing.</summary>
public static class AdminApi
{
    private static readonly HttpClient Http = new() { Timeout = TestClient.DefaultTimeout };

    /// <summary>Sends <paramref name="method"/> <paramref name="path"/> to <paramref name="node"/> with the given credential (none when both are null).</summary>
    public static Task<HttpResponseMessage> SendAsync(Uri node, HttpMethod method, string path, string? apiKey = null, string? bearer = null, string? body = null)
    {
        var request = new HttpRequestMessage(method, new Uri(node, path));
        if (apiKey is not null) request.Headers.Add("X-Api-Key", apiKey);
        if (bearer is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        if (body is not null) request.Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
        return Http.SendAsync(request);
    }

    /// <summary>GETs <paramref name="path"/> with the API key; fails unless 200.</summary>
    public static async Task<JsonElement> GetAsync(Uri node, string path, string apiKey)
    {
        using var response = await SendAsync(node, HttpMethod.Get, path, apiKey);
        Assert.True(response.IsSuccessStatusCode, $"GET {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    /// <summary>The member named <paramref name="node"/> in a <c>/admin/cluster</c> report, or null.</summary>
    public static JsonElement? Member(JsonElement report, string node)
    {
        foreach (var member in report.GetProperty("members").EnumerateArray())
            if (member.Str("node") == node) return member;
        return null;
    }

    /// <summary>The recent cut-offs of a <c>/admin/cluster</c> report.</summary>
    public static JsonElement[] RecentCutOffs(JsonElement report) =>
        report.GetProperty("cutOffs").GetProperty("recent").EnumerateArray().ToArray();
}
