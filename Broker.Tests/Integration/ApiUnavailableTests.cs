using System.Net;
using Microsoft.Extensions.Logging;

namespace Broker.Tests.Integration;

/// <summary>
/// The back-end API when the room or user entry it asks does not answer in time (its node is gone
/// or moving, PROTOCOL §9.1): 503 <c>unavailable</c> with a Retry-After, as a complete response,
/// and nothing logged as an unhandled exception. Found by the three-node durable-room tests
/// (Durable/), where a room's first answer on a busy, just-formed cluster took longer than
/// <c>Broker:Limits:AskTimeout</c>. Here the node has no <c>broker</c> role, so no node hosts rooms,
/// users or tickets and every ask waits in the shard proxy until it times out: a 1 ms timeout
/// raced a warm local entity and sometimes lost (CI saw ten answers in time in a row).
/// </summary>
public sealed class ApiUnavailableTests
{
    private const string ApiKey = "api-unavailable-tests-key";

    [Theory]
    [InlineData("GET", "api/rooms/slow-{0}", null)]
    [InlineData("POST", "api/publish", """{"room":"slow-{0}","payload":1}""")]
    [InlineData("GET", "api/users/slow-{0}", null)]
    public async Task An_entry_that_does_not_answer_in_time_gets_a_complete_503_unavailable_and_nothing_unhandled(string method, string path, string? body)
    {
        await using var host = await BrokerTestHost.StartAsync(new Dictionary<string, string?>
        {
            ["Broker:ApiKey"] = ApiKey,
            // No node of this one-node cluster hosts the shards: the entry never answers.
            ["Broker:Cluster:Roles"] = "edge",
            ["Broker:Limits:AskTimeout"] = "00:00:00.200",
        });

        var id = Guid.NewGuid().ToString("N");
        using var request = new HttpRequestMessage(new HttpMethod(method), string.Format(path, id));
        if (body is not null) request.Content = new StringContent(body.Replace("{0}", id), System.Text.Encoding.UTF8, "application/json");
        request.Headers.Add("X-Api-Key", ApiKey);
        // The whole response is read here: one cut short fails (HttpRequestException: the response ended prematurely).
        using var response = await host.Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("1", response.Headers.RetryAfter?.ToString());
        Assert.Equal("unavailable", JsonDocument.Parse(text).RootElement.GetProperty("code").GetString());
        var unhandled = host.Logs.Entries.Where(e => e.Level >= LogLevel.Error && e.Exception is not null).ToArray();
        Assert.True(unhandled.Length == 0, "the 503 was logged as an unhandled exception:\n" + string.Join("\n", unhandled.Select(e => e.ToString())));
    }
}
