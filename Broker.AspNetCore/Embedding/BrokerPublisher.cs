using System.Text.Json;
using Akka.Actor;
using Broker.Actors.Connections;
using Broker.Contracts.Cluster;
using Broker.Contracts.Protocol;
using Broker.AspNetCore.Hosting;

namespace Broker.AspNetCore.Embedding;

/// <summary>The <see cref="IBrokerPublisher"/> over the node's shard regions and connection supervisor.</summary>
public sealed class BrokerPublisher(BrokerNode node) : IBrokerPublisher
{
    /// <summary>The <c>from</c> of server-originated messages unless the caller names one.</summary>
    public const string DefaultFrom = Broker.Actors.Auth.ReservedSubjects.Server;

    /// <summary>How long a publish waits for the actors to accept it.</summary>
    public static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(5);

    public async Task<long> PublishToRoomAsync(string room, JsonElement payload, string from = DefaultFrom, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(room);
        if (!FrameParser.IsValidRoom(room))
            throw new ArgumentException("room must match ^[A-Za-z0-9_.:-]{1,128}$", nameof(room));
        var bytes = Serialize(payload, from);
        await node.Started.WaitAsync(cancellationToken);
        var accepted = await node.Rooms.Ask<RoomEvents.PublishAccepted>(
            new RoomCommands.PublishToRoom(room, null, from, bytes, false, null), AskTimeout, cancellationToken);
        return accepted.Offset;
    }

    public async Task<int> SendToUserAsync(string user, JsonElement payload, string from = DefaultFrom, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(user);
        if (user.Length is 0 or > FrameParser.MaxUserLength)
            throw new ArgumentException($"user must be 1 to {FrameParser.MaxUserLength} characters", nameof(user));
        var bytes = Serialize(payload, from);
        await node.Started.WaitAsync(cancellationToken);
        var delivered = await node.Users.Ask<UserEvents.DirectDelivered>(
            new UserCommands.SendToUser(user, from, bytes, null), AskTimeout, cancellationToken);
        return delivered.Delivered;
    }

    public async Task<long> BroadcastToRouteAsync(string route, JsonElement payload, string from = DefaultFrom, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(route);
        var bytes = Serialize(payload, from);
        await node.Started.WaitAsync(cancellationToken);
        var accepted = await node.Connections.Ask<ConnectionMessages.RouteBroadcastAccepted>(
            new ConnectionMessages.PublishToRoute(route, from, bytes), AskTimeout, cancellationToken);
        return accepted.Offset;
    }

    private static byte[] Serialize(JsonElement payload, string from)
    {
        ArgumentNullException.ThrowIfNull(from);
        if (payload.ValueKind == JsonValueKind.Undefined) throw new ArgumentException("payload must be a JSON value", nameof(payload));
        return ServerFrames.RawJson(payload);
    }
}
