using System.Diagnostics;
using System.Text;
using Broker.Host.Demo;
using Broker.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Broker.Tests.Browser;

/// <summary>
/// The chat demo in headless Chromium, driven by <c>e2e/browser/chat-demo.e2e.mjs</c> (Node +
/// playwright-core) against a real broker: two users chat, one is disconnected server-side and
/// recovers what was sent meanwhile. The script's output is the test's output.
/// </summary>
public sealed class ChatDemoBrowserTests(ITestOutputHelper output)
{
    private const string ApiKey = "browser-tests-api-key-0123456789";
    /// <summary>Beyond the script's own bound (120 s), so the script reports its own timeouts first.</summary>
    private static readonly TimeSpan ScriptTimeout = TimeSpan.FromSeconds(150);

    [BrowserFact]
    public async Task Two_users_chat_and_a_disconnected_user_recovers_the_missed_messages()
    {
        if (BrowserPrerequisites.Missing() is { } missing)
            Assert.Fail($"{BrowserPrerequisites.RequireVariable}=1 but the browser test cannot run: {missing}");

        await using var host = await BrokerTestHost.StartAsync(
            new Dictionary<string, string?> { ["Broker:ApiKey"] = ApiKey },
            environment: "Development", // the page gets its tokens from /auth/dev-token
            endpoints: app => app.MapBrokerDemo());
        var screenshot = Path.Combine(BrowserPrerequisites.RepoRoot, "artifacts", "browser", "chat-demo.png");

        var (exitCode, log) = await RunNodeAsync(
            Path.Combine(BrowserPrerequisites.DriverDirectory, "chat-demo.e2e.mjs"),
            host.BaseUri.ToString(), ApiKey, screenshot);

        output.WriteLine(log);
        Assert.True(exitCode == 0, $"chat-demo.e2e.mjs exited with {exitCode}:\n{log}");
        Assert.True(File.Exists(screenshot), $"no screenshot at {screenshot}");
        output.WriteLine($"screenshot: {screenshot}");
    }

    /// <summary>Runs a Node script; kills it (and Chromium under it) when it outlives <see cref="ScriptTimeout"/>.</summary>
    private static async Task<(int ExitCode, string Log)> RunNodeAsync(string script, params string[] arguments)
    {
        var start = new ProcessStartInfo(BrowserPrerequisites.NodePath!)
        {
            WorkingDirectory = BrowserPrerequisites.DriverDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(script);
        foreach (var argument in arguments) start.ArgumentList.Add(argument);

        var log = new StringBuilder();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.AppendLine("stderr: " + e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var timeout = new CancellationTokenSource(ScriptTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
            lock (log) log.AppendLine($"killed: the script ran longer than {ScriptTimeout}");
            return (-1, log.ToString());
        }
        // The parameterless wait drains the redirected output to its end.
        await process.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        lock (log) return (process.ExitCode, log.ToString());
    }
}
