namespace Broker.Tests.Browser;

/// <summary>
/// What the browser tests need outside .NET: Node on the PATH, the e2e driver's packages
/// (<c>npm ci</c> in <c>e2e/browser</c>) and Debian's Chromium. <c>.ci/run</c> installs them all.
/// </summary>
public static class BrowserPrerequisites
{
    /// <summary>When set to 1 (CI), a missing prerequisite fails the test instead of skipping it.</summary>
    public const string RequireVariable = "BROKER_REQUIRE_JS_TESTS";

    public const string ChromiumPath = "/usr/bin/chromium";

    /// <summary>The directory holding Broker.sln, found by walking up from the test binaries.</summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>The e2e driver's package (<c>e2e/browser</c>).</summary>
    public static string DriverDirectory => Path.Combine(RepoRoot, "e2e", "browser");

    /// <summary>The <c>node</c> executable on the PATH, or null.</summary>
    public static string? NodePath { get; } = FindOnPath("node");

    public static bool Required => Environment.GetEnvironmentVariable(RequireVariable) == "1";

    /// <summary>Why the browser tests cannot run here, or null when they can.</summary>
    public static string? Missing()
    {
        var missing = new List<string>();
        if (NodePath is null) missing.Add("node is not on the PATH");
        if (!Directory.Exists(Path.Combine(DriverDirectory, "node_modules", "playwright-core")))
            missing.Add("e2e/browser/node_modules is missing (run `npm ci` in e2e/browser)");
        if (!File.Exists(ChromiumPath)) missing.Add($"{ChromiumPath} is missing (apt-get install chromium chromium-driver)");
        return missing.Count == 0 ? null : string.Join("; ", missing);
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Broker.sln")))
                return dir.FullName;
        throw new InvalidOperationException($"no Broker.sln above {AppContext.BaseDirectory}");
    }

    private static string? FindOnPath(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }
}
