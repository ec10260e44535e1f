using Broker.AspNetCore.Configuration;
using Microsoft.Extensions.Options;

namespace Broker.AspNetCore.WebSockets;

/// <summary>
/// Counts the WebSockets each client IP has open on this node, for
/// <c>Broker:Limits:MaxConnectionsPerIp</c>: a handshake past the cap is refused before the
/// upgrade. A slot is held from the check until the request ends (the socket's whole life, however
/// it ends), so the count cannot leak; an IP with no socket left is dropped from the table.
/// </summary>
public sealed class ClientIpLimiter
{
    private readonly Dictionary<string, int> _open = new(StringComparer.Ordinal);

    public ClientIpLimiter(IOptions<BrokerOptions> options) => Max = options.Value.Limits.MaxConnectionsPerIp;

    /// <summary>The cap per IP; 0 = unlimited (nothing is counted).</summary>
    public int Max { get; }

    /// <summary>A slot for <paramref name="ip"/>, to dispose when its socket ends; null when the IP is at the cap.</summary>
    public IDisposable? TryAcquire(string ip)
    {
        if (Max <= 0) return Unlimited.Instance;
        lock (_open)
        {
            var open = _open.GetValueOrDefault(ip);
            if (open >= Max) return null;
            _open[ip] = open + 1;
        }
        return new Slot(this, ip);
    }

    /// <summary>How many sockets <paramref name="ip"/> has open (or is opening) now.</summary>
    public int OpenFor(string ip)
    {
        lock (_open) return _open.GetValueOrDefault(ip);
    }

    /// <summary>How many IPs have a socket open: the table's size, which must fall back to 0.</summary>
    public int TrackedAddresses
    {
        get { lock (_open) return _open.Count; }
    }

    private void Release(string ip)
    {
        lock (_open)
        {
            var open = _open.GetValueOrDefault(ip);
            if (open <= 1) _open.Remove(ip);
            else _open[ip] = open - 1;
        }
    }

    private sealed class Slot(ClientIpLimiter limiter, string ip) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0) limiter.Release(ip);
        }
    }

    private sealed class Unlimited : IDisposable
    {
        public static readonly Unlimited Instance = new();
        public void Dispose() { }
    }

    /// <summary>The <c>Retry-After</c> of a refusal: a slot frees only when one of the address's connections closes.</summary>
    private const string RetryAfterSeconds = "5";

    /// <summary>
    /// Answers a client past the cap, for WebSocket and SSE alike: the refusal in the access log, then
    /// 429 with <c>Retry-After</c> and the error body.
    /// </summary>
    public Task RefuseAsync(HttpContext context, string route, ILoggerFactory loggers)
    {
        Observability.WebSocketAccess.LimitRefused(context, route, StatusCodes.Status429TooManyRequests, "too many connections from this address", loggers);
        context.Response.Headers.RetryAfter = RetryAfterSeconds;
        return Http.BrokerHttp.Problem(context, StatusCodes.Status429TooManyRequests,
            $"too many connections from this address (at most {Max}); close one and retry");
    }
}
