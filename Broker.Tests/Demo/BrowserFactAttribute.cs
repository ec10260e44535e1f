using Broker.Tests.JsClient;

namespace Broker.Tests.Demo;

/// <summary>
/// A fact that needs a real browser: skipped, with the reason, where Node, the e2e packages or
/// Chromium are missing, unless <c>BROKER_REQUIRE_JS_TESTS=1</c> (CI), where it runs and fails.
/// </summary>
public sealed class BrowserFactAttribute : FactAttribute
{
    public BrowserFactAttribute()
    {
        if (NodeRuntime.Required) return;
        if (BrowserPrerequisites.Missing() is { } missing)
            Skip = $"browser test skipped: {missing} (BROKER_REQUIRE_JS_TESTS=1 turns this skip into a failure)";
    }
}
