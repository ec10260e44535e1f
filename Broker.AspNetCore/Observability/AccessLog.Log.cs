namespace Broker.AspNetCore.Observability;

/// <summary>
/// The WebSocket access log: one event per connect, auth, join, leave and close, under the
/// category <see cref="Category"/> with stable event ids. Verbosity is the category's level:
/// <c>Debug</c> adds joins and leaves, <c>Information</c> (default) connects, authentications and
/// normal closes, <c>Warning</c> only refusals and cut-offs. Tokens, tickets and payloads are
/// never parameters here.
/// </summary>
internal static partial class AccessLog
{
    /// <summary>The logger category; set <c>Logging:LogLevel:Broker.Access</c> to choose the verbosity.</summary>
    public const string Category = "Broker.Access";

    [LoggerMessage(EventId = 1001, EventName = "WsConnected", Level = LogLevel.Information,
        Message = "WebSocket {ConnectionId} connected: route {Route}, node {Node}, remote {RemoteAddress}, user {UserId}")]
    public static partial void Connected(ILogger logger, string connectionId, string route, string node, string remoteAddress, string? userId);

    [LoggerMessage(EventId = 1002, EventName = "WsAuthenticated", Level = LogLevel.Information,
        Message = "WebSocket {ConnectionId} authenticated: user {UserId}, route {Route}, method {Method}")]
    public static partial void Authenticated(ILogger logger, string connectionId, string userId, string route, string method);

    [LoggerMessage(EventId = 1003, EventName = "WsAuthFailed", Level = LogLevel.Warning,
        Message = "WebSocket {ConnectionId} auth failed: route {Route}, remote {RemoteAddress}, reason {Reason} ({Detail})")]
    public static partial void AuthFailed(ILogger logger, string connectionId, string route, string remoteAddress, string reason, string? detail);

    [LoggerMessage(EventId = 1004, EventName = "WsJoined", Level = LogLevel.Debug,
        Message = "WebSocket {ConnectionId} joined: user {UserId}, room {Room}")]
    public static partial void Joined(ILogger logger, string connectionId, string userId, string room);

    [LoggerMessage(EventId = 1005, EventName = "WsLeft", Level = LogLevel.Debug,
        Message = "WebSocket {ConnectionId} left: user {UserId}, room {Room}")]
    public static partial void Left(ILogger logger, string connectionId, string userId, string room);

    /// <summary>Information for 1000/1001, Warning when the broker cut the connection off.</summary>
    [LoggerMessage(EventId = 1006, EventName = "WsClosed",
        Message = "WebSocket {ConnectionId} closed: user {UserId}, route {Route}, node {Node}, remote {RemoteAddress}, " +
                  "duration {DurationMs} ms, close code {CloseCode} ({CloseReason}), client close status {ClientCloseStatus}, " +
                  "in {FramesIn} frames / {BytesIn} bytes, out {FramesOut} frames / {BytesOut} bytes")]
    public static partial void Closed(ILogger logger, LogLevel level, string connectionId, string? userId, string route, string node,
        string remoteAddress, long durationMs, int closeCode, string closeReason, int? clientCloseStatus,
        long framesIn, long bytesIn, long framesOut, long bytesOut);

    [LoggerMessage(EventId = 1007, EventName = "WsHandshakeRefused", Level = LogLevel.Warning,
        Message = "WebSocket handshake refused: route {Route}, remote {RemoteAddress}, status {StatusCode}, reason {Reason}")]
    public static partial void HandshakeRefused(ILogger logger, string route, string remoteAddress, int statusCode, string reason);
}
