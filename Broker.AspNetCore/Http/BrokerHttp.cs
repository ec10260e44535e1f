using Broker.AspNetCore.Hosting;

namespace Broker.AspNetCore.Http;

/// <summary>What every broker endpoint reads from a request (the bearer token, the client IP) and how it answers an error.</summary>
internal static class BrokerHttp
{
    /// <summary>The token of an <c>Authorization: Bearer …</c> header, or "" (which validates as <c>no token</c>).</summary>
    public static string BearerToken(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header["Bearer ".Length..].Trim() : "";
    }

    /// <summary>
    /// The caller's address as IPv4 text (IPv4-mapped IPv6 unmapped), the key of tickets and
    /// per-IP limits; <c>unknown</c> without a connection address (in-memory test servers).
    /// </summary>
    public static string ClientIp(HttpContext context) =>
        context.Connection.RemoteIpAddress?.MapToIPv4().ToString() ?? "unknown";

    /// <summary>Answers <paramref name="status"/> with <c>{"error":…}</c>, and the protocol error <paramref name="code"/> when given.</summary>
    public static Task Problem(HttpContext context, int status, string message, string? code = null)
    {
        context.Response.StatusCode = status;
        return context.Response.WriteAsJsonAsync(new HttpError(message, code), HostJsonContext.Default.HttpError);
    }

    /// <summary>
    /// 503 with a <c>Retry-After</c> of one second: the entry that answers (a room, a user, a ticket)
    /// is on a node that is gone or moving (docs/cluster.md); not refused, not served yet.
    /// </summary>
    public static Task RetryLater(HttpContext context, string message, string? code = null)
    {
        context.Response.Headers.RetryAfter = "1";
        return Problem(context, StatusCodes.Status503ServiceUnavailable, message, code);
    }
}
