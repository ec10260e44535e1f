namespace Broker.Tests.Cluster;

/// <summary>The cluster formation keys (PROTOCOL §9.6) through the real host: a setting that cannot form a cluster is refused at start-up, naming the key.</summary>
public sealed class ClusterDiscoveryConfigurationTests
{
    [Theory]
    [InlineData("Broker:Cluster:Discovery", "dns", null, null, "Broker:Cluster:Discovery must be seeds, config or kubernetes")]
    [InlineData("Broker:Cluster:Discovery", "config", null, null, "Broker:Cluster:Bootstrap:Endpoints is required")]
    [InlineData("Broker:Cluster:Discovery", "config", "Broker:Cluster:Bootstrap:Endpoints", "127.0.0.1", "'127.0.0.1' is not host:port")]
    [InlineData("Broker:Cluster:Discovery", "config", "Broker:Cluster:Bootstrap:Endpoints", "127.0.0.1:8558", "Broker:Cluster:Bootstrap:RequiredContactPoints (2) is more than")]
    [InlineData("Broker:Cluster:Discovery", "config", "Broker:Cluster:SeedNodes", "akka.tcp://broker@127.0.0.1:4053", "Broker:Cluster:SeedNodes must be empty")]
    [InlineData("Broker:Cluster:Discovery", "kubernetes", null, null, "Broker:Cluster:Bootstrap:LabelSelector is required")]
    [InlineData("Broker:Cluster:Discovery", "config", "Broker:Cluster:Bootstrap:Port", "0", "Broker:Cluster:Bootstrap:Port must be 1..65535")]
    public async Task A_discovery_setting_that_cannot_form_a_cluster_is_refused_at_start_up_naming_the_key(
        string key, string value, string? otherKey, string? otherValue, string message)
    {
        var settings = new Dictionary<string, string?> { [key] = value };
        if (otherKey is not null) settings[otherKey] = otherValue;
        if (otherKey != "Broker:Cluster:Bootstrap:Endpoints" && value == "config" && otherKey is not null)
            settings["Broker:Cluster:Bootstrap:Endpoints"] = "127.0.0.1:8558,127.0.0.1:8559";
        var error = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var host = await BrokerTestHost.StartAsync(settings);
        });
        Assert.Contains(message, error.ToString());
    }

    [Fact]
    public async Task Discovery_keys_are_case_insensitive_and_seeds_is_the_default()
    {
        // A single node with the default (seeds, none listed) forms its own cluster and is ready.
        await using var host = await BrokerTestHost.StartAsync(new Dictionary<string, string?> { ["Broker:Cluster:Discovery"] = "Seeds" });
        using var response = await host.Http.GetAsync("/health/ready");
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
    }
}
