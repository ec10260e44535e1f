namespace Broker.AspNetCore.Hosting;

/// <summary>
/// Serves the JavaScript client (clients/js/src, embedded at build time) at <c>/broker/…</c>:
/// <c>broker-client.js</c>, <c>react.js</c> and their <c>.d.ts</c> declarations. A page served by
/// the same host imports it same-origin, so the route's default Origin rule accepts its sockets.
/// </summary>
internal static class ClientScriptEndpoints
{
    /// <summary>The logical-name prefix of the client's files in Broker.AspNetCore.csproj.</summary>
    private const string ResourcePrefix = "Broker.AspNetCore.client/";

    private static readonly Lazy<EmbeddedAssets> Scripts =
        new(() => new EmbeddedAssets(typeof(ClientScriptEndpoints).Assembly, ResourcePrefix));

    /// <summary>Maps <c>GET /broker/{file}</c>; anything not embedded is 404.</summary>
    public static IEndpointRouteBuilder MapBrokerClientScripts(this IEndpointRouteBuilder app)
    {
        app.MapMethods("/broker/{**file}", [HttpMethods.Get, HttpMethods.Head],
            (HttpContext context, string? file) => Scripts.Value.Serve(context, file ?? ""));
        return app;
    }
}
