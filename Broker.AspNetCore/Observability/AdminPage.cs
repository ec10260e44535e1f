using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;

namespace Broker.AspNetCore.Observability;

/// <summary>
/// The console page served at <c>GET /admin</c> to a caller with credentials: <c>Console/index.html</c>
/// with its style, script and the vendored chart library (uPlot, <c>Console/vendor/</c>) inlined,
/// all embedded resources of Broker.AspNetCore. Inlined rather than linked because a browser
/// cannot add <c>X-Api-Key</c> or a bearer token to a <c>&lt;script src&gt;</c>, and every path under
/// <c>/admin</c> needs them (PROTOCOL §9.5): so the page and everything in it come in the one
/// authorized response, and nothing of the console is served to anyone without credentials.
/// </summary>
internal static partial class AdminPage
{
    /// <summary>The logical-name prefix of the console's files in Broker.AspNetCore.csproj.</summary>
    private const string ResourcePrefix = "Broker.AspNetCore.console/";

    private static readonly Lazy<string> Composed = new(Compose);

    /// <summary>The page, composed once.</summary>
    public static string Html => Composed.Value;

    private static string Compose()
    {
        var html = Read("index.html");
        return Inline().Replace(html, match => match.Groups[1].Value == "credentials" ? AdminSignIn.CredentialsScript : Read(match.Groups[1].Value));
    }

    private static string Read(string name)
    {
        using var stream = typeof(AdminPage).Assembly.GetManifestResourceStream(ResourcePrefix + name)
            ?? throw new InvalidOperationException($"the console's {name} is not embedded in {typeof(AdminPage).Assembly.GetName().Name}");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var text = reader.ReadToEnd();
        // Inside <script> or <style>, only this sequence could end the element early.
        if (text.Contains("</script", StringComparison.OrdinalIgnoreCase) && name != "index.html")
            throw new InvalidOperationException($"the console's {name} contains '</script' and cannot be inlined");
        return text;
    }

    /// <summary><c>{{inline name}}</c>: where a file's text goes.</summary>
    [GeneratedRegex(@"\{\{inline ([A-Za-z0-9_./-]+)\}\}")]
    private static partial Regex Inline();
}
