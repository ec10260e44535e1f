using Akka.Actor;

namespace Broker.Contracts.Cluster;

/// <summary>Messages addressed to one room; the shard extractor routes them by <see cref="RoomId"/>.</summary>
public interface IWithRoomId : IClusterMessage
{
    string RoomId { get; }
}

/// <summary>Commands to a sharded room. Payloads are raw UTF-8 JSON, so a room never re-parses them.</summary>
public static class RoomCommands
{
    /// <summary>A connection joins. <paramref name="Hub"/> is the member's node-local room hub, which all of its room traffic goes through.</summary>
    public sealed record JoinRoom(
        string RoomId, string ConnectionId, string UserId, IActorRef Connection, IActorRef Hub,
        string? RequestId, string? SinceEpoch, long? SinceOffset) : IWithRoomId;

    /// <summary>A connection leaves (or disconnected, then <paramref name="RequestId"/> is null and nobody is answered).</summary>
    public sealed record LeaveRoom(string RoomId, string ConnectionId, string? RequestId, bool Reply) : IWithRoomId;

    /// <summary>
    /// Publish to the room. From a connection, <paramref name="ConnectionId"/> must be a member;
    /// from the back-end API it is null and membership is not required.
    /// </summary>
    public sealed record PublishToRoom(
        string RoomId, string? ConnectionId, string From, byte[] Payload, bool ExcludeSelf, string? RequestId) : IWithRoomId;

    /// <summary>Ask for members, offset and epoch. Replies <see cref="RoomEvents.RoomInfo"/>.</summary>
    public sealed record GetRoomInfo(string RoomId) : IWithRoomId;
}

/// <summary>What rooms send back: to hubs (one per node) and to publishers.</summary>
public static class RoomEvents
{
    /// <summary>Room → each hub with members, once per node: deliver <paramref name="Frame"/> to the local members.</summary>
    public sealed record RoomBroadcast(string RoomId, byte[] Frame, string? ExcludeConnectionId) : IClusterMessage;

    /// <summary>
    /// Room → the joiner's hub: the replayed <c>message</c> frames then the <c>joined</c> (or <c>error</c>)
    /// frame, in order. Going through the hub keeps them ordered with live broadcasts.
    /// </summary>
    public sealed record JoinResult(string RoomId, string ConnectionId, bool Accepted, byte[][] Frames) : IClusterMessage;

    /// <summary>Room → publisher: accepted with this offset in this epoch.</summary>
    public sealed record PublishAccepted(string RoomId, string? RequestId, long Offset, string Epoch) : IClusterMessage;

    /// <summary>Room → publisher: refused (e.g. not a member).</summary>
    public sealed record PublishRejected(string RoomId, string? RequestId, string Code, string Message) : IClusterMessage;

    /// <summary>Reply to <see cref="RoomCommands.GetRoomInfo"/>.</summary>
    public sealed record RoomInfo(string RoomId, string[] Members, long Offset, string Epoch) : IClusterMessage;
}
