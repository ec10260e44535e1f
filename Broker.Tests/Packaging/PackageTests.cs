using System.IO.Compression;
using System.Xml.Linq;
using Broker.Tests.JsClient;

namespace Broker.Tests.Packaging;

/// <summary>
/// Packs the five libraries into a folder feed once, from the binaries this suite was built with
/// (nothing is written into the repository's bin or obj), and builds a copy of samples/OrderService
/// in a temporary folder against that feed, as an app outside this repository would.
/// </summary>
public sealed class PackedFeed : IAsyncLifetime
{
    public static readonly string[] Packages = ["Broker.Contracts", "Broker.Actors", "Broker.AspNetCore", "Broker.Client", "Broker.TestKit"];
    private static readonly TimeSpan Deadline = TimeSpan.FromMinutes(3);
#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    private readonly string _root = Path.Combine(Path.GetTempPath(), "broker-packages-" + Guid.NewGuid().ToString("N"));
    private static string Repo => JsNodeProcess.RepositoryRoot;

    /// <summary>The one version of Directory.Build.props.</summary>
    public string Version { get; } = XDocument.Load(Path.Combine(Repo, "Directory.Build.props")).Descendants("Version").Single().Value;

    public string Feed => Path.Combine(_root, "feed");
    public string App => Path.Combine(_root, "app", "OrderService");
    public NodeRunResult Pack { get; private set; } = null!;
    public NodeRunResult SampleBuild { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        // A solution filter holding only the packable projects: one pack of the five, in parallel.
        Directory.CreateDirectory(_root);
        var filter = Path.Combine(_root, "packages.slnf");
        File.WriteAllText(filter, JsonSerializer.Serialize(new
        {
            solution = new { path = Path.Combine(Repo, "Broker.sln"), projects = Packages.Select(p => $"{p}/{p}.csproj") },
        }));
        Pack = await DotnetAsync(_root, "pack", filter, "--no-build", "--no-restore", "-c", Configuration, "-o", Feed,
            $"-p:NuspecOutputPath={Path.Combine(_root, "nuspec")}");
        if (Pack.ExitCode != 0) return;

        // The sample with the repository's build settings beside it, and a NuGet.config adding the
        // feed to the sources this machine has configured (a config without <clear/> inherits them).
        Directory.CreateDirectory(App);
        foreach (var file in new[] { "Directory.Build.props", "Directory.Packages.props" })
            File.Copy(Path.Combine(Repo, file), Path.Combine(_root, "app", file));
        foreach (var file in Directory.EnumerateFiles(Path.Combine(Repo, "samples", "OrderService")))
            File.Copy(file, Path.Combine(App, Path.GetFileName(file)));
        File.WriteAllText(Path.Combine(_root, "app", "NuGet.config"), $"""
            <configuration>
              <packageSources>
                <add key="broker-feed" value="{Feed}" />
              </packageSources>
            </configuration>
            """);
        // Restored into a folder of its own, so a feed packed anew at the same version is never
        // shadowed by a stale copy; everything else comes from the machine's packages as a fallback.
        var machinePackages = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        SampleBuild = await DotnetAsync(App, "build", "-c", Configuration, "-p:BrokerFromPackages=true",
            $"-p:RestorePackagesPath={Path.Combine(_root, "packages")}", $"-p:RestoreFallbackFolders={machinePackages}");
    }

    public Task DisposeAsync()
    {
        try { Directory.Delete(_root, recursive: true); }
        catch (IOException) { /* a temp folder; the OS cleans up what is still in use */ }
        return Task.CompletedTask;
    }

    /// <summary>
    /// One dotnet command without build servers: a reused MSBuild node or compiler server would
    /// outlive the test, holding its output pipes open.
    /// </summary>
    private static Task<NodeRunResult> DotnetAsync(string directory, params string[] args) =>
        JsNodeProcess.RunProcessAsync(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet", directory, Deadline, null,
            [.. args, "-nodeReuse:false", "-p:UseSharedCompilation=false", "-warnaserror"]);
}

/// <summary>Runs alone, after the parallel tests: a pack and a build would take their CPU.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class PackagingCollection
{
    public const string Name = "Packaging (slow: dotnet pack and build)";
}

/// <summary>
/// The packages a user takes (docs/packages.md). Slow, about a minute: <see cref="PackedFeed"/> runs
/// <c>dotnet pack</c> and a <c>dotnet build</c> with a restore.
/// </summary>
[Collection(PackagingCollection.Name)]
[Trait("Category", "Packaging")]
public sealed class PackageTests(PackedFeed feed) : IClassFixture<PackedFeed>
{
    [Fact]
    public void Exactly_the_five_libraries_are_packed_with_symbols()
    {
        Assert.True(feed.Pack.ExitCode == 0, $"dotnet pack failed:\n{feed.Pack.Output}");
        var expected = PackedFeed.Packages.SelectMany(p => new[] { $"{p}.{feed.Version}.nupkg", $"{p}.{feed.Version}.snupkg" }).Order();
        Assert.Equal(expected, Directory.EnumerateFiles(feed.Feed).Select(Path.GetFileName).Order());
        foreach (var package in PackedFeed.Packages)
            Assert.Contains($"lib/net10.0/{package}.pdb", Entries(package, "snupkg"));
    }

    [Fact]
    public void Every_package_carries_the_readme_licence_and_repository()
    {
        Assert.True(feed.Pack.ExitCode == 0, $"dotnet pack failed:\n{feed.Pack.Output}");
        foreach (var package in PackedFeed.Packages)
        {
            var metadata = Nuspec(package);
            Assert.Equal(feed.Version, Value(metadata, "version"));
            Assert.Equal("MIT", Value(metadata, "license"));
            Assert.Equal("README.md", Value(metadata, "readme"));
            Assert.Contains("README.md", Entries(package, "nupkg"));
            Assert.Contains($"lib/net10.0/{package}.xml", Entries(package, "nupkg"));
            Assert.Equal("git", metadata.Elements().Single(e => e.Name.LocalName == "repository").Attribute("type")?.Value);
        }
    }

    [Fact]
    public void The_client_compiles_the_wire_constants_in_and_depends_on_no_package()
    {
        Assert.True(feed.Pack.ExitCode == 0, $"dotnet pack failed:\n{feed.Pack.Output}");
        Assert.DoesNotContain(Nuspec("Broker.Client").Descendants(), e => e.Name.LocalName == "dependency");
    }

    [Fact]
    public void The_sample_builds_against_the_packages_not_the_projects()
    {
        Assert.True(feed.Pack.ExitCode == 0, $"dotnet pack failed:\n{feed.Pack.Output}");
        Assert.False(feed.SampleBuild.TimedOut, feed.SampleBuild.Output);
        Assert.True(feed.SampleBuild.ExitCode == 0, $"the sample did not build from the packages:\n{feed.SampleBuild.Output}");

        // The restore took the broker from the feed: three packages, no project.
        using var assets = JsonDocument.Parse(File.ReadAllText(Path.Combine(feed.App, "obj", "project.assets.json")));
        var libraries = assets.RootElement.GetProperty("libraries").EnumerateObject().ToDictionary(l => l.Name, l => l.Value.GetProperty("type").GetString());
        foreach (var package in new[] { "Broker.AspNetCore", "Broker.Actors", "Broker.Contracts" })
            Assert.Equal("package", libraries[$"{package}/{feed.Version}"]);
        Assert.DoesNotContain("project", libraries.Values);
        Assert.Single(Directory.GetFiles(Path.Combine(feed.App, "bin"), "Broker.AspNetCore.dll", SearchOption.AllDirectories));
    }

    private string[] Entries(string package, string extension)
    {
        using var zip = ZipFile.OpenRead(Path.Combine(feed.Feed, $"{package}.{feed.Version}.{extension}"));
        return zip.Entries.Select(e => e.FullName).ToArray();
    }

    private XElement Nuspec(string package)
    {
        using var zip = ZipFile.OpenRead(Path.Combine(feed.Feed, $"{package}.{feed.Version}.nupkg"));
        using var stream = zip.GetEntry($"{package}.nuspec")!.Open();
        return XDocument.Load(stream).Root!.Elements().Single(e => e.Name.LocalName == "metadata");
    }

    private static string? Value(XElement metadata, string name) => metadata.Elements().SingleOrDefault(e => e.Name.LocalName == name)?.Value;
}
