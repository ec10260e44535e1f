using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace Broker.AspNetCore.Sse;

/// <summary>An open SSE session: the route and user it belongs to, and the transport its POSTs feed.</summary>
/// <param name="Route">The route name as configured (matched case-insensitively, like <c>/ws/{route}</c>).</param>
/// <param name="UserId">The session's user; a POST on an authenticated route must carry a token for it.</param>
public sealed record SseSession(string Route, string UserId, SseTransport Transport);

/// <summary>
/// This node's open SSE sessions by id. An id is the only link between a GET's stream and the POSTs
/// that feed it, and on anonymous routes the only credential: 144 random bits, base64url, never
/// logged. A session is here exactly as long as its GET request runs.
/// </summary>
public sealed class SseSessions
{
    private readonly ConcurrentDictionary<string, SseSession> _sessions = new(StringComparer.Ordinal);

    /// <summary>Sessions open on this node.</summary>
    public int Count => _sessions.Count;

    /// <summary>A new unguessable session id (PROTOCOL §9.4: at least 128 random bits).</summary>
    public static string NewId() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(18)).Replace('+', '-').Replace('/', '_');

    internal void Add(string id, SseSession session) => _sessions[id] = session;

    internal void Remove(string id) => _sessions.TryRemove(id, out _);

    /// <summary>The open session <paramref name="id"/> on <paramref name="route"/>, if any.</summary>
    public SseSession? Find(string route, string id) =>
        _sessions.TryGetValue(id, out var session) && string.Equals(session.Route, route, StringComparison.OrdinalIgnoreCase)
            ? session
            : null;
}
