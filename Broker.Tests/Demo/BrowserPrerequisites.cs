using Broker.Tests.JsClient;

namespace Broker.Tests.Demo;

/// <summary>
/// What the browser tests need outside .NET: Node on the PATH, the e2e driver's packages
/// (<c>npm ci</c> in <c>e2e/browser</c>) and Debian's Chromium. <c>.ci/run</c> installs them all.
/// </summary>
public static class BrowserPrerequisites
{
    public const string ChromiumPath = "/usr/bin/chromium";

    /// <summary>The e2e driver's package (<c>e2e/browser</c>).</summary>
    public static string DriverDirectory => Path.Combine(JsNodeProcess.RepositoryRoot, "e2e", "browser");

    /// <summary>Why the browser tests cannot run here, or null when they can.</summary>
    public static string? Missing()
    {
        var missing = new List<string>();
        if (NodeRuntime.Path is null) missing.Add("node is not on the PATH");
        if (!Directory.Exists(Path.Combine(DriverDirectory, "node_modules", "playwright-core")))
            missing.Add("e2e/browser/node_modules is missing (run `npm ci` in e2e/browser)");
        if (!File.Exists(ChromiumPath)) missing.Add($"{ChromiumPath} is missing (apt-get install chromium chromium-driver)");
        return missing.Count == 0 ? null : string.Join("; ", missing);
    }
}
