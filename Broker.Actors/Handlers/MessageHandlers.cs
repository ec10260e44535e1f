using System.Collections.Frozen;

namespace Broker.Actors.Handlers;

/// <summary>
/// The node's application-defined message types: which <see cref="IBrokerMessageHandler"/> serves
/// each, and on which routes. Built once at start-up; each connection takes its route's
/// <see cref="RouteHandlers"/>. Names are checked when added (<see cref="Contracts.Protocol.FrameParser.CustomTypeError"/>).
/// </summary>
public sealed class MessageHandlers
{
    /// <summary>How long a handler may take before its request gets <c>error internal</c> by default (and the default of <c>Broker:Limits:HandlerTimeout</c>).</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    // One lock over both maps: an Add racing a ForRoute must neither break the enumeration nor
    // let a route's answer computed before the Add be cached after it (a lost handler).
    private readonly Lock _gate = new();
    private readonly Dictionary<string, (IBrokerMessageHandler Handler, string[] Routes)> _byType = new(StringComparer.Ordinal);
    private readonly Dictionary<string, RouteHandlers?> _byRoute = new(StringComparer.OrdinalIgnoreCase);

    /// <param name="timeout">How long one call may take before it is cancelled and answered <c>error internal</c>.</param>
    public MessageHandlers(TimeSpan? timeout = null)
    {
        Timeout = timeout ?? DefaultTimeout;
        if (Timeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(timeout), "a handler timeout must be positive");
    }

    /// <summary>How long one call may take.</summary>
    public TimeSpan Timeout { get; }

    /// <summary>Serves <paramref name="type"/> with <paramref name="handler"/> on <paramref name="routes"/> (every route when empty).</summary>
    /// <exception cref="ArgumentException">The name is invalid, built in, or already registered.</exception>
    /// <remarks>Thread-safe, also against <see cref="ForRoute"/> on other threads.</remarks>
    public MessageHandlers Add(string type, IBrokerMessageHandler handler, params string[] routes)
    {
        if (Contracts.Protocol.FrameParser.CustomTypeError(type) is { } error) throw new ArgumentException(error, nameof(type));
        ArgumentNullException.ThrowIfNull(handler);
        lock (_gate)
        {
            if (!_byType.TryAdd(type, (handler, routes))) throw new ArgumentException($"a handler for '{type}' is already registered", nameof(type));
            _byRoute.Clear();
        }
        return this;
    }

    /// <summary>The handlers enabled on <paramref name="route"/>, or null when it has none (the parse path stays as without handlers).</summary>
    /// <remarks>Safe to call while another thread adds handlers: the answer holds every handler added before the call.</remarks>
    public RouteHandlers? ForRoute(string route)
    {
        lock (_gate)
        {
            if (_byRoute.TryGetValue(route, out var cached)) return cached;
            var enabled = _byType
                .Where(kv => kv.Value.Routes.Length == 0 || kv.Value.Routes.Contains(route, StringComparer.OrdinalIgnoreCase))
                .ToDictionary(kv => kv.Key, kv => kv.Value.Handler, StringComparer.Ordinal);
            return _byRoute[route] = enabled.Count == 0 ? null : new RouteHandlers(enabled.ToFrozenDictionary(StringComparer.Ordinal), Timeout);
        }
    }
}

/// <summary>The custom message types one route serves, frozen for the per-frame lookup.</summary>
public sealed class RouteHandlers
{
    internal RouteHandlers(FrozenDictionary<string, IBrokerMessageHandler> handlers, TimeSpan timeout)
    {
        Handlers = handlers;
        Types = handlers.Keys.ToFrozenSet(StringComparer.Ordinal);
        Timeout = timeout;
    }

    /// <summary>Handler by type.</summary>
    public FrozenDictionary<string, IBrokerMessageHandler> Handlers { get; }

    /// <summary>The types, for <see cref="Contracts.Protocol.FrameParser.Parse(ReadOnlySpan{byte}, IReadOnlySet{string})"/>.</summary>
    public FrozenSet<string> Types { get; }

    /// <summary>How long one call may take.</summary>
    public TimeSpan Timeout { get; }
}
