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
    /// <summary>
    /// A connection joins. <paramref name="Hub"/> is the member's node-local room hub, which all of
    /// its room traffic goes through. <paramref name="Seq"/> is the hub's number for this command,
    /// echoed in the result so the hub can tell a current answer from a stale one.
    /// </summary>
    public sealed record JoinRoom(
        string RoomId, string ConnectionId, string UserId, IActorRef Connection, IActorRef Hub,
        string? RequestId, string? SinceEpoch, long? SinceOffset, long Seq = 0) : IWithRoomId;

    /// <summary>
    /// A connection leaves (or disconnected: then <paramref name="Reply"/> is false and nobody is
    /// answered). Answered with <see cref="RoomEvents.LeaveResult"/> to the sender (the hub).
    /// </summary>
    public sealed record LeaveRoom(string RoomId, string ConnectionId, string? RequestId, bool Reply, long Seq = 0) : IWithRoomId;

    /// <summary>
    /// Publish to the room. From a connection (through its hub), <paramref name="ConnectionId"/>
    /// must be a member; from the back-end API it is null and membership is not required.
    /// <paramref name="IdempotencyKey"/> (PROTOCOL §9.2): a publish with a key the room has seen
    /// within its window is not applied again and gets the first one's ack.
    /// </summary>
    public sealed record PublishToRoom(
        string RoomId, string? ConnectionId, string From, byte[] Payload, bool ExcludeSelf, string? RequestId, long Seq = 0,
        string? IdempotencyKey = null) : IWithRoomId;

    /// <summary>
    /// Ask for one page of members, the count, offset and epoch. Replies <see cref="RoomEvents.RoomInfo"/>.
    /// Members are ordered ordinally: up to <paramref name="Limit"/> of them after the user id
    /// <paramref name="After"/> (null: from the first).
    /// </summary>
    public sealed record GetRoomInfo(string RoomId, int Limit = GetRoomInfo.DefaultLimit, string? After = null) : IWithRoomId
    {
        /// <summary>Members per page when the asker names no limit (PROTOCOL §9.3).</summary>
        public const int DefaultLimit = 100;

        /// <summary>The largest page a room returns.</summary>
        public const int MaxLimit = 1000;
    }

    /// <summary>
    /// Hub → room, after the incarnation it talked to is gone (its node died, or it was handed
    /// off): these members of the hub stayed joined, and the hub had delivered up to
    /// <paramref name="SinceOffset"/> of <paramref name="SinceEpoch"/>. Replies
    /// <see cref="RoomEvents.RejoinResult"/>. Sent again until answered (the first copy may have
    /// gone to the dead node); <paramref name="Attempt"/> numbers the hub's moves of this room,
    /// and the room takes the members of each move once.
    /// </summary>
    public sealed record RejoinRoom(
        string RoomId, IActorRef Hub, RejoiningMember[] Members, string? SinceEpoch, long SinceOffset, long Attempt) : IWithRoomId;

    /// <summary>Hub → room: the broadcasts after <paramref name="AfterOffset"/> up to <paramref name="UpToOffset"/> never arrived. Replies <see cref="RoomEvents.HistoryRange"/>.</summary>
    public sealed record FetchHistory(string RoomId, string Epoch, long AfterOffset, long UpToOffset) : IWithRoomId;
}

/// <summary>One member in a <see cref="RoomCommands.RejoinRoom"/>.</summary>
public sealed record RejoiningMember(string ConnectionId, string UserId);

/// <summary>What rooms send back: to hubs (one per node) and to publishers.</summary>
public static class RoomEvents
{
    /// <summary>
    /// Room → each hub with members, once per node: deliver <paramref name="Frame"/> to the local
    /// members. A <c>message</c> carries its <paramref name="Epoch"/> and <paramref name="Offset"/>
    /// so the hub can see a gap; presence frames are outside the stream (offset 0).
    /// </summary>
    public sealed record RoomBroadcast(string RoomId, byte[] Frame, string? ExcludeConnectionId, string Epoch, long Offset) : IClusterMessage;

    /// <summary>
    /// Room → the joiner's hub: the replayed <c>message</c> frames then the <c>joined</c> frame, in
    /// order, and the room's position when it answered. Going through the hub keeps them ordered
    /// with live broadcasts.
    /// </summary>
    public sealed record JoinResult(string RoomId, string ConnectionId, long Seq, string Epoch, long Offset, byte[][] Frames) : IClusterMessage;

    /// <summary>
    /// Room → the joiner's hub: the join of command <paramref name="Seq"/> was not applied (a
    /// durable room whose store is unreachable: <c>unavailable</c>). The member is not in the room.
    /// </summary>
    public sealed record JoinRejected(string RoomId, string ConnectionId, long Seq, string? RequestId, string Code, string Message) : IClusterMessage;

    /// <summary>Room → the leaver's hub: the leave of command <paramref name="Seq"/> is done.</summary>
    public sealed record LeaveResult(string RoomId, string ConnectionId, long Seq) : IClusterMessage;

    /// <summary>Room → publisher: accepted with this offset in this epoch. <paramref name="Seq"/> echoes the hub's number (0 from the API).</summary>
    public sealed record PublishAccepted(string RoomId, string? RequestId, long Offset, string Epoch, long Seq = 0) : IClusterMessage;

    /// <summary>Room → publisher: refused (not a member; or, from the hub, <c>unavailable</c>).</summary>
    public sealed record PublishRejected(string RoomId, string? RequestId, string Code, string Message, long Seq = 0) : IClusterMessage;

    /// <summary>Reply to <see cref="RoomCommands.GetRoomInfo"/> from a durable room whose store is unreachable.</summary>
    public sealed record RoomUnavailable(string RoomId, string Message) : IClusterMessage;

    /// <summary>
    /// Reply to <see cref="RoomCommands.GetRoomInfo"/>: one page of <paramref name="Members"/>, the
    /// room's user <paramref name="Count"/>, and <paramref name="Next"/>, the last user id of the page
    /// when more remain (ask again with it as <c>After</c>), else null.
    /// </summary>
    public sealed record RoomInfo(string RoomId, string[] Members, long Offset, string Epoch, int Count = 0, string? Next = null) : IClusterMessage;

    /// <summary>
    /// Reply to <see cref="RoomCommands.RejoinRoom"/>: the room's position and members, and the
    /// <c>message</c> frames the hub's members lack. <paramref name="Continuous"/>: same epoch and
    /// the frames close the gap (nothing lost); otherwise the frames are the current epoch's
    /// history from offset 1 and the members must be told their history was lost.
    /// <paramref name="Users"/> is null when the room does not list its members (PROTOCOL §9.3:
    /// counts or off, or a full room past its threshold); <paramref name="Count"/> is its user count.
    /// </summary>
    public sealed record RejoinResult(
        string RoomId, long Attempt, string Epoch, long Offset, string[]? Users, byte[][] Frames, bool Continuous, int Count = 0) : IClusterMessage;

    /// <summary>
    /// Reply to <see cref="RoomCommands.FetchHistory"/>: the frames from <paramref name="FirstOffset"/>
    /// on, consecutive; <paramref name="Complete"/> when they cover the whole range asked for.
    /// <paramref name="Users"/> and <paramref name="Count"/> as in <see cref="RejoinResult"/>.
    /// </summary>
    public sealed record HistoryRange(
        string RoomId, string Epoch, long FirstOffset, long UpToOffset, byte[][] Frames, bool Complete, string[]? Users, int Count = 0) : IClusterMessage;
}
