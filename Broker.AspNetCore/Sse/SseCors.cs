namespace Broker.AspNetCore.Sse;

/// <summary>
/// The CORS headers an SSE session needs where a WebSocket needs none: a browser reads a
/// cross-origin <c>EventSource</c> stream, and sends a POST with <c>Authorization</c>, only when
/// the response names its origin. Given only to origins the route's Origin rule already allowed.
/// </summary>
public static class SseCors
{
    /// <summary>Names an allowed cross-origin caller in the response (a same-host or header-less request needs nothing).</summary>
    public static void AllowOrigin(HttpContext context, string origin)
    {
        if (string.IsNullOrEmpty(origin)) return;
        context.Response.Headers.AccessControlAllowOrigin = origin;
        context.Response.Headers.Vary = "Origin";
    }

    /// <summary>Answers a POST's preflight (<c>OPTIONS</c>): 204 with what the POST may carry, for an origin already allowed.</summary>
    public static void AnswerPreflight(HttpContext context, string origin)
    {
        AllowOrigin(context, origin);
        context.Response.Headers.AccessControlAllowMethods = "POST";
        context.Response.Headers.AccessControlAllowHeaders = "Authorization, Content-Type";
        context.Response.Headers.AccessControlMaxAge = "600";
        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }
}
