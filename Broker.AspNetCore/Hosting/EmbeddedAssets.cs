using System.Collections.Frozen;
using System.Reflection;
using System.Security.Cryptography;
using Microsoft.Net.Http.Headers;

namespace Broker.AspNetCore.Hosting;

/// <summary>
/// Static files compiled into Broker.AspNetCore as embedded resources (see Broker.AspNetCore.csproj), served
/// from memory with a content hash ETag. Embedded rather than read from wwwroot so they are there
/// however the host runs: <c>dotnet run</c>, a published image, tests whose content root is their
/// bin folder, or another app that references Broker.AspNetCore.
/// </summary>
internal sealed class EmbeddedAssets
{
    // The file names are not versioned, so browsers revalidate every time; the ETag makes that a 304.
    private const string CacheControl = "no-cache";

    private readonly FrozenDictionary<string, Asset> _assets;

    /// <summary>Loads every resource of <paramref name="assembly"/> whose logical name starts with <paramref name="prefix"/>.</summary>
    public EmbeddedAssets(Assembly assembly, string prefix)
    {
        var assets = new Dictionary<string, Asset>(StringComparer.Ordinal);
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            if (!resource.StartsWith(prefix, StringComparison.Ordinal)) continue;
            var name = resource[prefix.Length..];
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var bytes = copy.ToArray();
            var tag = new EntityTagHeaderValue("\"" + Convert.ToHexStringLower(SHA256.HashData(bytes).AsSpan(0, 12)) + "\"");
            assets[name] = new Asset(bytes, ContentTypeOf(name), tag);
        }
        _assets = assets.ToFrozenDictionary(StringComparer.Ordinal);
    }

    /// <summary>The file, with its ETag (answered with 304 when the request's If-None-Match matches), or 404.</summary>
    public IResult Serve(HttpContext context, string name)
    {
        if (!_assets.TryGetValue(name, out var asset))
            return Results.NotFound();
        context.Response.Headers.CacheControl = CacheControl;
        context.Response.Headers.XContentTypeOptions = "nosniff";
        return Results.Bytes(asset.Bytes, asset.ContentType, entityTag: asset.Tag);
    }

    private static string ContentTypeOf(string name) => Path.GetExtension(name) switch
    {
        ".js" or ".mjs" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".html" => "text/html; charset=utf-8",
        // TypeScript declarations: text a browser shows and tools read; no registered type fits better.
        ".ts" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    };

    private sealed record Asset(byte[] Bytes, string ContentType, EntityTagHeaderValue Tag);
}
