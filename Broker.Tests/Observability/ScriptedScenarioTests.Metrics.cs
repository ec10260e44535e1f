namespace Broker.Tests.Observability;

public sealed partial class ScriptedScenarioTests
{
    [Fact]
    public async Task Metrics_move_by_the_expected_amounts_under_the_scripted_scenario()
    {
        var outcome = await RunScenarioAsync("m" + Guid.NewGuid().ToString("N")[..6]);
        var route = "route=" + host.Route;

        // Mid-scenario: alice and bob authenticated on our route, nobody pending.
        Assert.Equal(2, outcome.During.Sum("broker_connections", route, "state=authenticated"));
        Assert.Equal(0, outcome.During.Sum("broker_connections", route, "state=pending"));
        Assert.True(outcome.During.Sum("broker_rooms_active") >= 1, "a room is active");
        Assert.True(outcome.During.Sum("broker_cluster_members", "status=up") >= 1, "this node is an up member");
        Assert.Equal(0, outcome.During.Sum("broker_cluster_unreachable"));

        PrometheusScrape after = null!;
        double Delta(string name, params string[] labels) => after.Sum(name, labels) - outcome.Before.Sum(name, labels);

        // The close events are counted when the sockets finish; poll until all four are in.
        await Eventually.TrueAsync(async () =>
        {
            after = await host.ScrapeAsync();
            return Delta("broker_connections_closed_total", route) >= 4;
        }, "the four closes never showed up on /metrics");

        Assert.Equal(0, after.Sum("broker_connections", route));
        Assert.Equal(4, Delta("broker_connections_closed_total", route));
        Assert.Equal(2, Delta("broker_connections_closed_total", route, "code=1000", "reason=normal"));
        Assert.Equal(1, Delta("broker_connections_closed_total", route, "code=4401", "reason=unauthorized"));
        Assert.Equal(1, Delta("broker_connections_closed_total", route, "code=1008", "reason=heartbeat_timeout"));

        Assert.Equal(1, Delta("broker_heartbeat_terminations_total"));
        Assert.Equal(1, Delta("broker_auth_failures_total"));
        Assert.Equal(1, Delta("broker_auth_failures_total", "reason=malformed_token") + Delta("broker_auth_failures_total", "reason=invalid_token"));
        Assert.Equal(0, Delta("broker_slow_consumer_closes_total"));
        Assert.Equal(0, Delta("broker_rate_limited_total"));

        Assert.Equal(1, Delta("broker_publishes_total", "kind=room"));
        Assert.Equal(2, Delta("broker_deliveries_total", "kind=room"));
        Assert.Equal(1, Delta("broker_delivery_latency_seconds_count", "kind=room")); // one sample per broadcast and node
        Assert.Equal(0, Delta("broker_remote_hops_total")); // one node: every hub is local

        // Frames: at least auth + 2 joins + publish + leave + 2 auth from the others; bytes follow.
        Assert.True(Delta("broker_frames_in_total") >= 7, "frames in counted");
        Assert.True(Delta("broker_bytes_in_total") > Delta("broker_frames_in_total"), "bytes in counted");
        Assert.True(Delta("broker_frames_out_total") >= 10, "frames out counted");
        Assert.True(Delta("broker_bytes_out_total") > Delta("broker_frames_out_total"), "bytes out counted");
    }

    [Fact]
    public async Task Metrics_endpoint_speaks_prometheus_text_with_help_and_type()
    {
        var response = await host.Http.GetAsync("/metrics");
        response.EnsureSuccessStatusCode();
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType);
        var text = await response.Content.ReadAsStringAsync();
        Assert.Contains("# TYPE broker_cluster_members gauge", text);
        Assert.Contains("# HELP broker_cluster_members", text);
    }
}
