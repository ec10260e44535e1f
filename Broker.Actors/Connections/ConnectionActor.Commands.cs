using Akka.Actor;
using Broker.Actors.Observability;
using Broker.Contracts.Protocol;
using static Broker.Actors.Connections.ConnectionMessages;

namespace Broker.Actors.Connections;

/// <summary>What an authenticated client may send, and what its route allows.</summary>
public sealed partial class ConnectionActor
{
    private void OnFrame(InboundFrame frame)
    {
        if (frame.Kind == InboundKind.RateLimited)
        {
            var limited = FrameParser.Parse(frame.Utf8);
            BrokerMetrics.RateLimitHit(closed: false);
            Send(ServerFrames.Error(limited.Command?.Id ?? limited.Error?.Id, ErrorCodes.RateLimited, "rate limit exceeded; slow down"));
            AckStream();
            return;
        }
        // Custom types are looked up only after every built-in one, and only when the route has any.
        var parsed = FrameParser.Parse(frame.Utf8, _handlers?.Types);
        if (parsed.Error is { } error)
        {
            Send(ServerFrames.Error(error));
            AckStream();
            return;
        }
        if (Handle(parsed.Command!)) AckStream();
    }

    /// <summary>Handles one command; false when it holds the stream ack (an async step will ack).</summary>
    private bool Handle(ClientCommand command)
    {
        switch (command)
        {
            case PingCommand ping:
                Send(ServerFrames.Pong(ping.Id));
                return true;
            case PongCommand:
                return true;
            case CustomCommand custom:
                RunHandler(custom);
                return false;
            case AuthCommand refresh:
                CheckToken(refresh, _settings.RefreshTimeout);
                return false;
            case PublishCommand or SendCommand when !_info.Route.AllowPublish:
                Send(ServerFrames.Error(command.Id, ErrorCodes.Forbidden, $"route '{_info.Route.Name}' is receive-only"));
                return true;
            case PublishCommand { Room: null } when !_info.Route.AllowBroadcast:
                Send(ServerFrames.Error(command.Id, ErrorCodes.Forbidden,
                    $"route '{_info.Route.Name}' does not allow route-wide broadcast; publish to a room"));
                return true;
            case PublishCommand { Room: null } broadcast:
                Context.Parent.Tell(new RouteBroadcast(_info.Route.Name, _user!.UserId, broadcast.Payload, broadcast.ExcludeSelf, broadcast.Id));
                return true;
            case JoinCommand or LeaveCommand or PublishCommand or SendCommand:
                return HandleRoomOrDirect(command);
            default:
                Send(ServerFrames.Error(command.Id, ErrorCodes.BadRequest, "unsupported command"));
                return true;
        }
    }
}
