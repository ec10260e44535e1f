using Broker.AspNetCore.Demo;
using Broker.Tests.JsClient;
using Xunit.Abstractions;

namespace Broker.Tests.Demo;

/// <summary>
/// The chat demo in headless Chromium, driven by <c>e2e/browser/chat-demo.e2e.mjs</c> (Node +
/// playwright-core) against a real broker: two users chat, one is disconnected server-side and
/// recovers what was sent meanwhile; then more than the history holds is sent while they are away,
/// and the page warns. The script's output is the test's output.
/// </summary>
public sealed class ChatDemoBrowserTests(ITestOutputHelper output)
{
    private const string ApiKey = "browser-tests-api-key-0123456789";
    /// <summary>Small, so the script can overflow it while a user is away (the "messages lost" warning).</summary>
    private const int HistorySize = 5;
    /// <summary>Beyond the script's own bound (120 s), so the script reports its own timeouts first.</summary>
    private static readonly TimeSpan ScriptTimeout = TimeSpan.FromSeconds(150);

    [BrowserFact]
    public async Task Two_users_chat_and_a_disconnected_user_recovers_the_missed_messages()
    {
        if (BrowserPrerequisites.Missing() is { } missing)
            Assert.Fail($"BROKER_REQUIRE_JS_TESTS=1 but the browser test cannot run: {missing}");

        await using var host = await BrokerTestHost.StartAsync(
            new Dictionary<string, string?> { ["Broker:ApiKey"] = ApiKey, ["Broker:Rooms:HistorySize"] = HistorySize.ToString() },
            environment: "Development", // the page gets its tokens from /auth/dev-token
            endpoints: app => app.MapBrokerDemo());
        var screenshot = Path.Combine(JsNodeProcess.RepositoryRoot, "artifacts", "browser", "chat-demo.png");

        var run = await JsNodeProcess.RunAsync(ScriptTimeout,
            Path.Combine(BrowserPrerequisites.DriverDirectory, "chat-demo.e2e.mjs"), host.BaseUri.ToString(), ApiKey, screenshot, HistorySize.ToString());

        output.WriteLine(run.Output);
        Assert.True(run.ExitCode == 0, $"chat-demo.e2e.mjs {(run.TimedOut ? "was killed after " + ScriptTimeout : "exited with " + run.ExitCode)}:\n{run.Output}");
        Assert.True(File.Exists(screenshot), $"no screenshot at {screenshot}");
        output.WriteLine($"screenshot: {screenshot}");
    }

    /// <summary>
    /// <c>e2e/browser/sse-fallback.e2e.mjs</c>: the page cannot open a WebSocket (an init script
    /// makes every one fail before the demo's scripts run), so the client library falls back to
    /// SSE by itself and chats both ways with a page on a WebSocket, recovers after a server-side
    /// disconnect; and a plain <c>EventSource</c> on the receive-only route gets a room's notifications.
    /// </summary>
    [BrowserFact]
    public async Task A_page_without_WebSocket_chats_over_SSE_and_a_plain_EventSource_receives_notifications()
    {
        if (BrowserPrerequisites.Missing() is { } missing)
            Assert.Fail($"BROKER_REQUIRE_JS_TESTS=1 but the browser test cannot run: {missing}");

        await using var host = await BrokerTestHost.StartAsync(
            new Dictionary<string, string?> { ["Broker:ApiKey"] = ApiKey },
            environment: "Development",
            endpoints: app => app.MapBrokerDemo());
        var screenshot = Path.Combine(JsNodeProcess.RepositoryRoot, "artifacts", "browser", "chat-demo-sse.png");

        var run = await JsNodeProcess.RunAsync(ScriptTimeout,
            Path.Combine(BrowserPrerequisites.DriverDirectory, "sse-fallback.e2e.mjs"), host.BaseUri.ToString(), ApiKey, screenshot);

        output.WriteLine(run.Output);
        Assert.True(run.ExitCode == 0, $"sse-fallback.e2e.mjs {(run.TimedOut ? "was killed after " + ScriptTimeout : "exited with " + run.ExitCode)}:\n{run.Output}");
        Assert.True(File.Exists(screenshot), $"no screenshot at {screenshot}");
        output.WriteLine($"screenshot: {screenshot}");
    }
}
