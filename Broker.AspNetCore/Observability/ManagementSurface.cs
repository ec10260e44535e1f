using Broker.AspNetCore.Configuration;

namespace Broker.AspNetCore.Observability;

/// <summary>
/// <c>Broker:Management:Urls</c> (PROTOCOL §9.5): when set, <c>/metrics</c>, <c>/health/*</c> and
/// <c>/admin</c> are served only on those listeners, and those listeners serve nothing else. The
/// side is told by the port the connection came in on (<see cref="ConnectionInfo.LocalPort"/>),
/// not by the Host header, which any client can set.
/// </summary>
public static class ManagementSurface
{
    private static readonly string[] Paths = ["/metrics", "/health", "/admin"];

    public static IApplicationBuilder UseBrokerManagementSurface(this IApplicationBuilder app, ManagementOptions options)
    {
        var ports = new HashSet<int>();
        foreach (var url in options.UrlList())
            if (TryPort(url, out var port)) ports.Add(port);
        if (ports.Count == 0) return app;
        return app.Use(async (context, next) =>
        {
            var onManagementPort = ports.Contains(context.Connection.LocalPort);
            if (onManagementPort != IsManagementPath(context.Request.Path))
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }
            await next(context);
        });
    }

    /// <summary>Whether <paramref name="path"/> is one of the management endpoints.</summary>
    public static bool IsManagementPath(PathString path)
    {
        foreach (var prefix in Paths)
            if (path.StartsWithSegments(prefix, StringComparison.OrdinalIgnoreCase)) return true;
        return false;
    }

    /// <summary>The port of a Kestrel URL such as <c>http://0.0.0.0:9090</c> or <c>http://*:9090</c>; false when it names none.</summary>
    public static bool TryPort(string url, out int port)
    {
        port = 0;
        try
        {
            var address = BindingAddress.Parse(url);
            port = address.Port;
            return port is > 0 and <= 65535 && address.Scheme is "http" or "https";
        }
        catch (FormatException)
        {
            return false;
        }
    }
}
