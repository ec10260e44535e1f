using Broker.Bench.Servers;

namespace Broker.Bench.Load;

/// <summary>
/// What the clients and the broker each counted when a fan-out run failed, so a loss says where it
/// happened: publishes the clients sent but the broker never counted were lost on the way in;
/// deliveries the broker counted but subscribers never got, on the way out; neither, in the room.
/// </summary>
public static class FanOutDiagnosis
{
    private static readonly string[] Counters =
    [
        "broker_publishes_total", "broker_deliveries_total", "broker_frames_in_total", "broker_frames_out_total",
        "broker_slow_consumer_closes_total", "broker_connections_closed_total", "broker_heartbeat_terminations_total",
    ];

    public static async Task<string> DescribeAsync(FanOutRun run, IReadOnlyList<ServerProcess> servers)
    {
        var sent = run.Publishers.Sum(p => p.LastSent);
        var received = run.Subscribers.Sum(s => s.Received);
        var silent = run.Subscribers.Count(s => s.Received == 0);
        var parts = new List<string>
        {
            $"clients: {sent:N0} publishes sent, {received:N0} deliveries received, {silent:N0} of {run.Subscribers.Count:N0} subscribers received nothing",
        };
        foreach (var server in servers)
        {
            try
            {
                var values = new List<string>();
                foreach (var counter in Counters) values.Add($"{counter.Replace("broker_", "").Replace("_total", "")} {await server.CounterAsync(counter):N0}");
                parts.Add("broker: " + string.Join(", ", values));
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                parts.Add($"broker: /metrics did not answer ({e.Message})");
            }
        }
        return string.Join("; ", parts);
    }
}
