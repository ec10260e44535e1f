// Also compiled into Broker.Client (linked, no package dependency), under the client's namespace.
#if BROKER_CLIENT
namespace Broker.Client.Protocol;
#else
namespace Broker.Contracts.Protocol;
#endif

/// <summary>The <c>code</c> values of an <c>error</c> frame (PROTOCOL §3).</summary>
public static class ErrorCodes
{
    public const string BadRequest = "bad_request";
    public const string Unauthorized = "unauthorized";
    public const string Forbidden = "forbidden";
    public const string NotFound = "not_found";
    public const string TooLarge = "too_large";
    public const string RateLimited = "rate_limited";
    public const string Internal = "internal";
    /// <summary>Not served now (the room's host is moving, a store is unreachable); retry with backoff. Never for a request that was applied (PROTOCOL §9.1).</summary>
    public const string Unavailable = "unavailable";
}
