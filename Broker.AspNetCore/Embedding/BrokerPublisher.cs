using System.Text.Json;
using Akka.Actor;
using Broker.Actors.Connections;
using Broker.AspNetCore.Configuration;
using Broker.Contracts.Cluster;
using Broker.Contracts.Protocol;
using Broker.AspNetCore.Hosting;
using Microsoft.Extensions.Options;

namespace Broker.AspNetCore.Embedding;

/// <summary>The <see cref="IBrokerPublisher"/> over the node's shard regions and connection supervisor.</summary>
public sealed class BrokerPublisher(BrokerNode node, IOptions<BrokerOptions> options) : IBrokerPublisher
{
    /// <summary>The <c>from</c> of server-originated messages unless the caller names one.</summary>
    public const string DefaultFrom = Broker.Actors.Auth.ReservedSubjects.Server;

    private readonly TimeSpan _askTimeout = options.Value.Limits.AskTimeout;

    public async Task<long> PublishToRoomAsync(string room, JsonElement payload, string from = DefaultFrom, CancellationToken cancellationToken = default) =>
        (await PublishToRoomWithEpochAsync(room, payload, from, cancellationToken)).Offset;

    public Task<RoomPublished> PublishToRoomWithEpochAsync(string room, JsonElement payload, string from = DefaultFrom, CancellationToken cancellationToken = default) =>
        PublishAsync(room, payload, from, null, cancellationToken);

    public Task<RoomPublished> PublishToRoomOnceAsync(string room, JsonElement payload, string idempotencyKey, string from = DefaultFrom,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(idempotencyKey);
        if (!FrameParser.IsValidIdempotencyKey(idempotencyKey))
            throw new ArgumentException($"idempotencyKey must be 1 to {FrameParser.MaxIdempotencyKeyLength} characters", nameof(idempotencyKey));
        return PublishAsync(room, payload, from, idempotencyKey, cancellationToken);
    }

    private async Task<RoomPublished> PublishAsync(string room, JsonElement payload, string from, string? idempotencyKey, CancellationToken cancellationToken)
    {
        CheckRoom(room);
        var answer = await AskAsync<object>(static n => n.Rooms,
            new RoomCommands.PublishToRoom(room, null, from, Serialize(payload, from), false, null, IdempotencyKey: idempotencyKey), cancellationToken);
        return answer switch
        {
            RoomEvents.PublishAccepted accepted => new RoomPublished(accepted.Offset, accepted.Epoch),
            RoomEvents.PublishRejected rejected => throw new BrokerUnavailableException(rejected.Message),
            _ => throw new InvalidOperationException($"unexpected answer {answer.GetType().Name} to a room publish"),
        };
    }

    public async Task<int> SendToUserAsync(string user, JsonElement payload, string from = DefaultFrom, CancellationToken cancellationToken = default)
    {
        CheckUser(user);
        var delivered = await AskAsync<UserEvents.DirectDelivered>(static n => n.Users,
            new UserCommands.SendToUser(user, from, Serialize(payload, from), null), cancellationToken);
        return delivered.Delivered;
    }

    public async Task<long> BroadcastToRouteAsync(string route, JsonElement payload, string from = DefaultFrom, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(route);
        var accepted = await AskAsync<ConnectionMessages.RouteBroadcastAccepted>(static n => n.Connections,
            new ConnectionMessages.PublishToRoute(route, from, Serialize(payload, from)), cancellationToken);
        return accepted.Offset;
    }

    public Task<RoomPresence> GetRoomAsync(string room, CancellationToken cancellationToken = default) =>
        GetRoomAsync(room, RoomCommands.GetRoomInfo.DefaultLimit, null, cancellationToken);

    public async Task<RoomPresence> GetRoomAsync(string room, int limit, string? cursor, CancellationToken cancellationToken = default)
    {
        CheckRoom(room);
        var (after, _) = RoomPresence.CheckPage(limit, cursor);
        var answer = await AskAsync<object>(static n => n.Rooms, new RoomCommands.GetRoomInfo(room, limit, after), cancellationToken);
        if (answer is RoomEvents.RoomUnavailable unavailable) throw new BrokerUnavailableException(unavailable.Message);
        var info = (RoomEvents.RoomInfo)answer;
        return new RoomPresence(info.RoomId, info.Members, info.Offset, info.Epoch)
        {
            Count = info.Count,
            Next = info.Next is { } next ? RoomMembersCursor.Encode(next) : null,
        };
    }

    public async Task<UserPresence> GetUserAsync(string user, CancellationToken cancellationToken = default)
    {
        CheckUser(user);
        var status = await AskAsync<UserEvents.UserStatus>(static n => n.Users, new UserCommands.GetUserStatus(user), cancellationToken);
        return new UserPresence(status.UserId, status.Online, status.Connections, status.Rooms);
    }

    public async Task<int> DisconnectUserAsync(string user, bool reconnect = true, CancellationToken cancellationToken = default)
    {
        CheckUser(user);
        // 4500–4999 tells clients to reconnect and recover; 4403 (4000–4499) tells them to stay away.
        var close = reconnect ? Close.Disconnected : Close.DisconnectedForbidden;
        var done = await AskAsync<UserEvents.UserDisconnected>(static n => n.Users, new UserCommands.DisconnectUser(user, close), cancellationToken);
        return done.Disconnected;
    }

    /// <summary>Asks <paramref name="target"/> (read once the node has started: before, it is nobody) within <c>Broker:Limits:AskTimeout</c>.</summary>
    private async Task<T> AskAsync<T>(Func<BrokerNode, IActorRef> target, object message, CancellationToken cancellationToken)
    {
        await node.Started.WaitAsync(cancellationToken);
        return await target(node).Ask<T>(message, _askTimeout, cancellationToken);
    }

    private static void CheckRoom(string room)
    {
        ArgumentNullException.ThrowIfNull(room);
        if (!FrameParser.IsValidRoom(room))
            throw new ArgumentException("room must match ^[A-Za-z0-9_.:-]{1,128}$", nameof(room));
    }

    private static void CheckUser(string user)
    {
        ArgumentNullException.ThrowIfNull(user);
        if (user.Length is 0 or > FrameParser.MaxUserLength)
            throw new ArgumentException($"user must be 1 to {FrameParser.MaxUserLength} characters", nameof(user));
    }

    private static byte[] Serialize(JsonElement payload, string from)
    {
        ArgumentNullException.ThrowIfNull(from);
        if (payload.ValueKind == JsonValueKind.Undefined) throw new ArgumentException("payload must be a JSON value", nameof(payload));
        return ServerFrames.RawJson(payload);
    }
}
