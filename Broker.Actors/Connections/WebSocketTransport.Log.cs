using Microsoft.Extensions.Logging;

namespace Broker.Actors.Connections;

public sealed partial class WebSocketTransport
{
    /// <summary>The category the host creates the transport's logger with.</summary>
    public const string LogCategory = "Broker.Transport";

    [LoggerMessage(EventId = 4001, EventName = "TransportFailure", Level = LogLevel.Error,
        Message = "Connection {ConnectionId}: unexpected failure in the socket's {Direction} path; the connection is closed")]
    private static partial void UnexpectedFailure(ILogger logger, Exception exception, string connectionId, string direction);
}
