using Akka.Actor;
using Broker.Actors.Observability;
using Broker.Actors.Rooms;
using Broker.Contracts.Cluster;
using Broker.Contracts.Protocol;

namespace Broker.Actors.Connections;

/// <summary>Rooms and direct messages: joins, leaves, publishes and sends, and the application's room rules before them.</summary>
public sealed partial class ConnectionActor
{
    /// <summary>A join, leave, publish to a room or send; false when the room rules hold the stream ack.</summary>
    private bool HandleRoomOrDirect(ClientCommand command)
    {
        if (_services is null)
        {
            Send(ServerFrames.Error(command.Id, ErrorCodes.NotFound, "rooms and direct messages are not enabled on this node"));
            return true;
        }
        if (NeedsAuthorization(command, _services) is not { } rules)
        {
            Dispatch(command, _services);
            return true;
        }
        // Hold the stream's ack until the application's rules answer, so the connection's
        // commands still reach the room in the order it sent them.
        // Bounded, so slow rules cost the client one `unavailable`, never the connection.
        var (userId, room) = (_user!.UserId, command is JoinCommand j ? j.Room : ((PublishCommand)command).Room!);
        var (holdId, token) = Hold(_settings.RoomRuleTimeout, command.Id, "the room rules did not answer in time; not applied, retry");
        var decision = command is JoinCommand ? rules.MayJoinAsync(userId, room, token) : rules.MayPublishAsync(userId, room, token);
        decision.AsTask().PipeTo(Self,
            success: allowed => new RoomRuleDecision(command, allowed, holdId),
            failure: _ => new RoomRuleDecision(command, false, holdId));
        return false;
    }

    /// <summary>The rules to ask before this command, or null when nothing needs asking.</summary>
    private IRoomAuthorizer? NeedsAuthorization(ClientCommand command, ConnectionServices services)
    {
        if (services.Authorizer is null or AllowAllRooms) return null;
        var ruled = command is JoinCommand || command is PublishCommand { Room: { } room } && _rooms.Contains(room);
        return ruled ? services.Authorizer : null;
    }

    private void OnRoomRuleDecision(RoomRuleDecision decision)
    {
        AckStream();
        if (decision.Allowed) Dispatch(decision.Command, _services!);
        else Send(ServerFrames.Error(decision.Command.Id, ErrorCodes.Forbidden, "not allowed in this room"));
    }

    private void Dispatch(ClientCommand command, ConnectionServices services)
    {
        switch (command)
        {
            case JoinCommand join:
                Join(join, services);
                break;
            case LeaveCommand leave:
                ConnectionTelemetry.Left(Context.System, _info, _user!.UserId, leave.Room);
                if (_rooms.Remove(leave.Room)) UpdateUserRooms(services);
                services.RoomHub.Tell(new RoomCommands.LeaveRoom(leave.Room, _info.ConnectionId, leave.Id, Reply: true));
                break;
            case PublishCommand publish when !_rooms.Contains(publish.Room!):
                Send(ServerFrames.Error(publish.Id, ErrorCodes.Forbidden, $"join room '{publish.Room}' before publishing to it"));
                break;
            case PublishCommand publish:
                services.RoomHub.Tell(new RoomCommands.PublishToRoom(
                    publish.Room!, _info.ConnectionId, _user!.UserId, publish.PayloadUtf8, publish.ExcludeSelf, publish.Id,
                    IdempotencyKey: publish.IdempotencyKey));
                break;
            case SendCommand send:
                services.Users.Tell(new UserCommands.SendToUser(send.User, _user!.UserId, ServerFrames.RawJson(send.Payload), send.Id));
                break;
        }
    }

    private void Join(JoinCommand join, ConnectionServices services)
    {
        if (!_rooms.Contains(join.Room) && _rooms.Count >= _settings.MaxRoomsPerConnection)
        {
            Send(ServerFrames.Error(join.Id, ErrorCodes.Forbidden, $"a connection may be in at most {_settings.MaxRoomsPerConnection} rooms"));
            return;
        }
        // Per user, all its connections on this node together: churn is what floods a room's members.
        if (services.Joins is { } joins && !joins.TryJoin(_user!.UserId))
        {
            BrokerMetrics.JoinsRateLimited.Add(1);
            Send(ServerFrames.Error(join.Id, ErrorCodes.RateLimited, "too many joins by this user; slow down"));
            return;
        }
        if (_rooms.Add(join.Room)) UpdateUserRooms(services);
        ConnectionTelemetry.Joined(Context.System, _info, _user!.UserId, join.Room);
        // The hub queues the room's frames on this socket itself (see RoomHub); refusals come back as OutboundRefused.
        services.RoomHub.Tell(new RoomHub.LocalJoin(new RoomCommands.JoinRoom(
            join.Room, _info.ConnectionId, _user!.UserId, Self, services.RoomHub, join.Id, join.Since?.Epoch, join.Since?.Offset), _transport));
    }

    private void UpdateUserRooms(ConnectionServices services) =>
        services.Users.Tell(new UserCommands.UpdateRooms(_user!.UserId, _info.ConnectionId, _rooms.ToArray()));

    private sealed record RoomRuleDecision(ClientCommand Command, bool Allowed, int HoldId);
}
