using System.Globalization;

// Also compiled into Broker.Client (linked, no package dependency), under the client's namespace.
#if BROKER_CLIENT
namespace Broker.Client.Protocol;
#else
namespace Broker.Contracts.Protocol;
#endif

/// <summary>
/// A close the broker sends: code, reason and metric tag together, one named value per cause, like
/// centrifuge's <c>Disconnect{Code, Reason}</c>. The reasons go on the wire and the tags into
/// <c>broker_connections_closed_total</c>: clients, acceptance checks and dashboards match them
/// byte for byte, so they are written here and nowhere else. A close that needs a reason of its own
/// keeps the code and tag of its cause: <c>Close.Unauthorized with { Reason = why }</c>.
/// </summary>
/// <param name="Code">The WebSocket close code (<see cref="CloseCodes"/>); its range decides <see cref="ShouldReconnect"/>.</param>
/// <param name="Reason">The close frame's reason text.</param>
/// <param name="Tag">The metric's <c>reason</c> tag: one of a fixed set, whatever <paramref name="Reason"/> says.</param>
public sealed record Close(int Code, string Reason, string Tag)
{
    /// <summary>The tag of a code or reason outside the catalogue.</summary>
    public const string OtherTag = "other";

    /// <summary>Normal closure: the client went away, or the stream ended.</summary>
    public static readonly Close Normal = new(CloseCodes.Normal, "", "normal");
    /// <summary>No valid <c>auth</c> before the deadline (PROTOCOL §2).</summary>
    public static readonly Close AuthTimeout = new(CloseCodes.Unauthorized, "auth timeout", "auth_timeout");
    /// <summary>The token or first frame was refused.</summary>
    public static readonly Close Unauthorized = new(CloseCodes.Unauthorized, "unauthorized", "unauthorized");
    /// <summary>The token ran out without a refresh.</summary>
    public static readonly Close TokenExpired = new(CloseCodes.Unauthorized, "token expired", "token_expired");
    /// <summary>The user is past <c>Broker:Limits:MaxConnectionsPerUser</c>.</summary>
    public static readonly Close TooManyConnections = new(CloseCodes.Forbidden, "too many connections", "too_many_connections");
    /// <summary>An operator disconnected the user (<c>POST /api/users/{user}/disconnect</c>): reconnect with backoff and recover.</summary>
    public static readonly Close Disconnected = new(CloseCodes.Disconnected, "disconnected", "disconnected");
    /// <summary>An operator disconnected the user with <c>"reconnect":false</c>: 4403, stay away.</summary>
    public static readonly Close DisconnectedForbidden = Disconnected with { Code = CloseCodes.Forbidden };
    /// <summary>The client did not read its frames fast enough.</summary>
    public static readonly Close SlowConsumer = new(CloseCodes.SlowConsumer, "slow consumer", "slow_consumer");
    /// <summary>The client answered no ping in time (PROTOCOL §5).</summary>
    public static readonly Close HeartbeatTimeout = new(CloseCodes.Policy, "heartbeat timeout", "heartbeat_timeout");
    /// <summary>Sustained flooding past the inbound rate limit.</summary>
    public static readonly Close RateLimit = new(CloseCodes.Policy, "rate limit exceeded", "rate_limit");
    /// <summary>An inbound message over the size limit.</summary>
    public static readonly Close TooBig = new(CloseCodes.TooBig, "message too big", "too_big");
    /// <summary>Invalid UTF-8 in a text frame.</summary>
    public static readonly Close InvalidUtf8 = new(CloseCodes.InvalidPayload, "invalid utf-8", "invalid_utf8");
    /// <summary>The node is shutting down; reconnect elsewhere.</summary>
    public static readonly Close ShuttingDown = new(CloseCodes.GoingAway, "node shutting down", "shutting_down");
    /// <summary>The server failed while handling this connection.</summary>
    public static readonly Close Internal = new(CloseCodes.Internal, "internal error", "internal");

    // Declared after the named closes, so they are set when it is built.
    private static readonly Close[] Named =
    [
        Normal, AuthTimeout, Unauthorized, TokenExpired, TooManyConnections, Disconnected, DisconnectedForbidden,
        SlowConsumer, HeartbeatTimeout, RateLimit, TooBig, InvalidUtf8, ShuttingDown, Internal,
    ];

    /// <summary>Whether a client may reconnect (with backoff) after this close.</summary>
    public bool ShouldReconnect => CloseCodes.ShouldReconnect(Code);

    /// <summary>The metric's <c>code</c> tag: the code when the catalogue uses it, else <see cref="OtherTag"/>.</summary>
    public string CodeTag => Array.Exists(Named, close => close.Code == Code) ? Code.ToString(CultureInfo.InvariantCulture) : OtherTag;

    /// <summary>
    /// The close a code and reason name, as they arrive in a cluster message: the catalogue's entry
    /// for that reason (with the code given), or one tagged <see cref="OtherTag"/> for a reason it lacks.
    /// </summary>
    public static Close Of(int code, string reason) => Array.Find(Named, close => close.Reason == reason) switch
    {
        { } known when known.Code == code => known,
        { } known => known with { Code = code },
        null => new Close(code, reason, OtherTag),
    };
}

/// <summary>
/// The WebSocket close codes the broker and its clients use (PROTOCOL §6), as constants for
/// switches over a received code; what the broker sends is a <see cref="Close"/>. The range says
/// what a client should do: 4000–4499 never reconnect without new credentials; 4500–4999, 1001
/// and 1011 reconnect with backoff and recover.
/// </summary>
public static class CloseCodes
{
    /// <summary>Normal closure.</summary>
    public const int Normal = 1000;
    /// <summary>The node is shutting down; reconnect elsewhere.</summary>
    public const int GoingAway = 1001;
    /// <summary>Invalid UTF-8 in a text frame.</summary>
    public const int InvalidPayload = 1007;
    /// <summary>Policy violation (heartbeat timeout, sustained flooding).</summary>
    public const int Policy = 1008;
    /// <summary>An inbound message over the size limit.</summary>
    public const int TooBig = 1009;
    /// <summary>The server failed while handling this connection.</summary>
    public const int Internal = 1011;
    /// <summary>Not authenticated, auth timeout, or expired token.</summary>
    public const int Unauthorized = 4401;
    /// <summary>Forbidden by policy.</summary>
    public const int Forbidden = 4403;
    /// <summary>An operator disconnected the user (<c>POST /api/users/{user}/disconnect</c>); reconnect with backoff and recover.</summary>
    public const int Disconnected = 4500;
    /// <summary>The client did not read its frames fast enough.</summary>
    public const int SlowConsumer = 4508;

    /// <summary>Whether a client may reconnect (with backoff) after this close code.</summary>
    /// <remarks>
    /// PROTOCOL §6 names two classes: 4000–4499 (new credentials first) and 4500–4999, 1001, 1011
    /// (reconnect and recover). Everything outside the first class except a normal close also
    /// reconnects: 1006 is a dropped network, 1008 a heartbeat or rate-limit kill, 1009 one bad frame.
    /// </remarks>
    public static bool ShouldReconnect(int code) =>
        code is not Normal and not (>= 4000 and <= 4499);
}
