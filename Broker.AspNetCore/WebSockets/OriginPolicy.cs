namespace Broker.AspNetCore.WebSockets;

/// <summary>
/// The handshake's Origin rule (PROTOCOL §2): no Origin header (a non-browser client) is allowed;
/// a present Origin must be in the route's list, or, when the list is empty, name the broker's own
/// host. <c>*</c> in the list allows any origin.
/// </summary>
public static class OriginPolicy
{
    public static bool IsAllowed(string? origin, IReadOnlyCollection<string> allowed, string requestHost)
    {
        if (string.IsNullOrEmpty(origin)) return true;
        if (allowed.Count > 0)
        {
            foreach (var entry in allowed)
                if (entry == "*" || string.Equals(entry.TrimEnd('/'), origin, StringComparison.OrdinalIgnoreCase))
                    return true;
            return false;
        }
        return Uri.TryCreate(origin, UriKind.Absolute, out var uri)
               && string.Equals(uri.Authority, requestHost, StringComparison.OrdinalIgnoreCase);
    }
}
