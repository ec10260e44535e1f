using Broker.AspNetCore.Hosting;

namespace Broker.AspNetCore.Demo;

/// <summary>
/// The chat demo (a page on the JS client served at <c>/broker/*</c>): <c>/</c>, <c>/demo/demo.js</c>,
/// <c>/demo/demo.css</c>. The standalone host maps it; an app embedding the broker gets it only if
/// it calls <see cref="MapBrokerDemo"/>.
/// </summary>
public static class DemoEndpoints
{
    /// <summary>The logical-name prefix of the demo's files in Broker.AspNetCore.csproj.</summary>
    private const string ResourcePrefix = "Broker.AspNetCore.demo/";

    // Scripts and styles only from this host; sockets only to it (the page is same-origin, so
    // the route's default Origin rule accepts it). Payloads are rendered as text, never markup.
    private const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private static readonly Lazy<EmbeddedAssets> Files =
        new(() => new EmbeddedAssets(typeof(DemoEndpoints).Assembly, ResourcePrefix));

    /// <summary>Maps the demo page at <c>/</c> and its script and style at <c>/demo/*</c>.</summary>
    public static IEndpointRouteBuilder MapBrokerDemo(this IEndpointRouteBuilder app)
    {
        app.MapGet("/", (HttpContext context) =>
        {
            context.Response.Headers.ContentSecurityPolicy = ContentSecurityPolicy;
            return Files.Value.Serve(context, "index.html");
        });
        app.MapGet("/demo/{file}", (HttpContext context, string file) =>
            file == "index.html" ? Results.NotFound() : Files.Value.Serve(context, file));
        return app;
    }
}
