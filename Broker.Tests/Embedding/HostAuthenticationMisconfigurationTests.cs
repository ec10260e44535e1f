namespace Broker.Tests.Embedding;

/// <summary>A misnamed host scheme is a start-up error, not a broker that silently refuses everyone.</summary>
public sealed class HostAuthenticationMisconfigurationTests
{
    [Fact]
    public async Task A_JwtBearerScheme_the_app_does_not_have_stops_the_start_up_naming_it()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var host = await BrokerTestHost.StartAsync(new Dictionary<string, string?> { ["Broker:Auth:JwtBearerScheme"] = "Typo" });
        });
        Assert.Contains("Typo", error.ToString());
    }
}
