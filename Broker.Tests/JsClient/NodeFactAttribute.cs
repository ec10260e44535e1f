namespace Broker.Tests.JsClient;

/// <summary>
/// A fact that needs Node.js: skipped with a reason when <c>node</c> is not on PATH, unless
/// <c>BROKER_REQUIRE_JS_TESTS=1</c> (CI), where it runs and fails instead of hiding the gap.
/// </summary>
public sealed class NodeFactAttribute : FactAttribute
{
    public NodeFactAttribute()
    {
        if (NodeRuntime.Path is null && !NodeRuntime.Required)
            Skip = "node is not on PATH: install Node.js 20+ to run the JS client tests (BROKER_REQUIRE_JS_TESTS=1 turns this skip into a failure)";
    }
}

/// <summary>Where <c>node</c> is, found once by searching PATH.</summary>
public static class NodeRuntime
{
    private static readonly Lazy<string?> Located = new(Locate);

    /// <summary>The full path of the node executable, or null when PATH has none.</summary>
    public static string? Path => Located.Value;

    /// <summary>Whether CI demands the JS tests (<c>BROKER_REQUIRE_JS_TESTS=1</c>).</summary>
    public static bool Required => Environment.GetEnvironmentVariable("BROKER_REQUIRE_JS_TESTS") == "1";

    private static string? Locate()
    {
        var names = OperatingSystem.IsWindows() ? new[] { "node.exe", "node.cmd" } : ["node"];
        var directories = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(System.IO.Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        foreach (var directory in directories)
            foreach (var name in names)
            {
                var candidate = System.IO.Path.Combine(directory.Trim('"'), name);
                if (File.Exists(candidate)) return candidate;
            }
        return null;
    }
}
