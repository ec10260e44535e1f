using Broker.Bench.Infra;
using Broker.Bench.Report;

namespace Broker.Bench.Scenarios;

public static class IdleScenario
{
    public static Task<ScenarioReport> RunAsync(BenchOptions options) => Task.FromResult(new ScenarioReport("Idle"));
}
