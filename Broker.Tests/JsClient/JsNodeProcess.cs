using System.Diagnostics;
using System.Text;

namespace Broker.Tests.JsClient;

/// <summary>What a node run printed and how it ended.</summary>
public sealed record NodeRunResult(int ExitCode, bool TimedOut, string Output);

/// <summary>Runs node from the repository root with a hard deadline (the process tree is killed on timeout).</summary>
public static class JsNodeProcess
{
    private static readonly TimeSpan KillGrace = TimeSpan.FromSeconds(10);

    /// <summary>The directory holding Broker.sln, found by walking up from the test binaries.</summary>
    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    /// <summary>Node's major version (the WebSocket global needs a flag before 22).</summary>
    public static async Task<int> MajorVersionAsync()
    {
        var result = await RunAsync(TimeSpan.FromSeconds(30), "-p", "process.versions.node.split('.')[0]");
        if (result.ExitCode != 0 || !int.TryParse(result.Output.Trim(), out var major))
            throw new InvalidOperationException($"could not read the node version: {result.Output}");
        return major;
    }

    /// <summary>Runs <c>node args…</c> in the repository root; stdout and stderr are interleaved in <see cref="NodeRunResult.Output"/>.</summary>
    public static Task<NodeRunResult> RunAsync(TimeSpan timeout, params string[] args) => RunAsync(timeout, null, args);

    /// <summary>As <see cref="RunAsync(TimeSpan, string[])"/>, also handing each line to <paramref name="onLine"/> as it is printed (a script that talks to its driver).</summary>
    public static async Task<NodeRunResult> RunAsync(TimeSpan timeout, Action<string>? onLine, params string[] args)
    {
        var node = NodeRuntime.Path ?? throw new InvalidOperationException(
            "node is not on PATH but BROKER_REQUIRE_JS_TESTS=1 requires the JS client tests: install Node.js 20+");
        return await RunProcessAsync(node, RepositoryRoot, timeout, onLine, args);
    }

    /// <summary>Runs any program the same way, with the same deadline and capture (the packaging tests run dotnet).</summary>
    public static async Task<NodeRunResult> RunProcessAsync(string fileName, string workingDirectory, TimeSpan timeout, Action<string>? onLine, params string[] args)
    {
        var start = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        // Plain text in the test log, whatever the developer's terminal settings.
        start.Environment["NO_COLOR"] = "1";
        start.Environment["FORCE_COLOR"] = "0";

        var output = new StringBuilder();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) =>
        {
            Append(output, e.Data);
            if (e.Data is { } line) onLine?.Invoke(line);
        };
        process.ErrorDataReceived += (_, e) => Append(output, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            using var grace = new CancellationTokenSource(KillGrace);
            try { await process.WaitForExitAsync(grace.Token); }
            catch (OperationCanceledException) { /* reported as a timeout below either way */ }
            return new NodeRunResult(-1, true, Snapshot(output) + $"\n[killed: {Path.GetFileName(fileName)} did not exit within {timeout}]");
        }
        // The parameterless wait also drains the redirected streams.
        process.WaitForExit();
        return new NodeRunResult(process.ExitCode, false, Snapshot(output));
    }

    private static void Append(StringBuilder output, string? line)
    {
        if (line is null) return;
        lock (output) output.AppendLine(line);
    }

    private static string Snapshot(StringBuilder output)
    {
        lock (output) return output.ToString();
    }

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "Broker.sln")))
                return directory.FullName;
        throw new InvalidOperationException($"no Broker.sln above {AppContext.BaseDirectory}");
    }
}
