using Xunit.Abstractions;

namespace Broker.Tests.JsClient;

/// <summary>The browser client (clients/js): its Node unit tests, and a live run against the real broker.</summary>
public sealed class JsClientTests(ITestOutputHelper output)
{
    private static readonly TimeSpan UnitTestDeadline = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan LiveDeadline = TimeSpan.FromSeconds(90);

    [NodeFact]
    public async Task Js_client_unit_tests_pass()
    {
        var result = await JsNodeProcess.RunAsync(UnitTestDeadline, "--test", "clients/js/test/");

        output.WriteLine(result.Output);
        Assert.False(result.TimedOut, $"node --test did not finish within {UnitTestDeadline}:\n{result.Output}");
        Assert.True(result.ExitCode == 0, $"node --test exited with {result.ExitCode}:\n{result.Output}");
    }

    [NodeFact]
    public async Task Js_client_connects_joins_publishes_and_delivers_against_the_real_broker()
    {
        var websocketFlag = await JsNodeProcess.MajorVersionAsync() < 22 ? new[] { "--experimental-websocket" } : [];
        // Development: POST /auth/dev-token mints the tokens the script uses.
        await using var host = await BrokerTestHost.StartAsync(environment: "Development");

        var result = await JsNodeProcess.RunAsync(LiveDeadline,
            [.. websocketFlag, "clients/js/test-integration/live.mjs", host.BaseUri.ToString()]);

        output.WriteLine(result.Output);
        Assert.False(result.TimedOut, $"live.mjs did not finish within {LiveDeadline}:\n{result.Output}");
        Assert.True(result.ExitCode == 0, $"live.mjs exited with {result.ExitCode}:\n{result.Output}");
    }
}
