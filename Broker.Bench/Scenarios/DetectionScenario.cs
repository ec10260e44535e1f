using Broker.Bench.Infra;
using Broker.Bench.Report;

namespace Broker.Bench.Scenarios;

public static class DetectionScenario
{
    public static Task<ScenarioReport> RunAsync(BenchOptions options) => Task.FromResult(new ScenarioReport("Detection"));
}
