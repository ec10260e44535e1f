// Also compiled into Broker.Client (linked, no package dependency), under the client's namespace.
#if BROKER_CLIENT
namespace Broker.Client.Protocol;
#else
namespace Broker.Contracts.Protocol;
#endif

/// <summary>
/// The one catalogue of WebSocket close codes the broker uses (PROTOCOL §6). The range says what a
/// client should do: 4000–4499 never reconnect without new credentials; 4500–4999, 1001 and
/// 1011 reconnect with backoff and recover.
/// </summary>
public static class CloseCodes
{
    /// <summary>Normal closure.</summary>
    public const int Normal = 1000;
    /// <summary>The node is shutting down; reconnect elsewhere.</summary>
    public const int GoingAway = 1001;
    /// <summary>Invalid UTF-8 in a text frame.</summary>
    public const int InvalidPayload = 1007;
    /// <summary>Policy violation (sustained flooding).</summary>
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

    /// <summary>Close reasons the broker sends; kept here so clients and tests match them exactly.</summary>
    public static class Reasons
    {
        public const string AuthTimeout = "auth timeout";
        public const string Unauthorized = "unauthorized";
        public const string TokenExpired = "token expired";
        public const string SlowConsumer = "slow consumer";
        public const string HeartbeatTimeout = "heartbeat timeout";
        public const string TooBig = "message too big";
        public const string InvalidUtf8 = "invalid utf-8";
        public const string RateLimit = "rate limit exceeded";
        public const string ShuttingDown = "node shutting down";
        public const string Internal = "internal error";
        public const string Disconnected = "disconnected";
        public const string TooManyConnections = "too many connections";
    }
}
