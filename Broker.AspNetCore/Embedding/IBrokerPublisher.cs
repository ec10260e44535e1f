using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Broker.AspNetCore.Embedding;

/// <summary>
/// Pushes messages to WebSocket clients from application code (controllers, background services,
/// domain event handlers) of an app that embeds the broker. Registered by <c>AddBroker</c>.
/// </summary>
/// <remarks>
/// A payload is any JSON value and is serialized once to UTF-8. Pass a <see cref="JsonElement"/>,
/// a value plus its <see cref="JsonTypeInfo{T}"/> (trim/AOT friendly), or any object (reflection
/// serialization with <see cref="JsonSerializerDefaults.Web"/> naming, i.e. camelCase).
/// Every call waits for the node to have started, then asks the actors; it fails with an
/// <c>AskTimeoutException</c> if they do not answer within <c>Broker:Limits:AskTimeout</c> (5 s), and
/// with <see cref="BrokerUnavailableException"/> when the room cannot serve it now (a durable
/// room whose store is unreachable); neither was applied unless a retry with its key says so.
/// The HTTP API (<c>/api/*</c>) is served through it.
/// </remarks>
public interface IBrokerPublisher
{
    /// <summary>Publishes to <paramref name="room"/> (members get <c>message</c>); returns the room offset.</summary>
    /// <exception cref="ArgumentException">The room name does not match <c>^[A-Za-z0-9_.:-]{1,128}$</c>.</exception>
    Task<long> PublishToRoomAsync(string room, JsonElement payload, string from = BrokerPublisher.DefaultFrom, CancellationToken cancellationToken = default);

    /// <summary>Publishes to <paramref name="room"/> as <see cref="PublishToRoomAsync"/> does; returns the room offset and epoch.</summary>
    /// <exception cref="ArgumentException">The room name does not match <c>^[A-Za-z0-9_.:-]{1,128}$</c>.</exception>
    Task<RoomPublished> PublishToRoomWithEpochAsync(string room, JsonElement payload, string from = BrokerPublisher.DefaultFrom, CancellationToken cancellationToken = default);

    /// <summary>
    /// Publishes to <paramref name="room"/> at most once per <paramref name="idempotencyKey"/> within
    /// <c>Broker:Rooms:IdempotencyWindow</c> (PROTOCOL §9.2): a retry after a timeout or
    /// <see cref="BrokerUnavailableException"/> with the same key gets the first publish's offset
    /// and epoch, and no member receives it twice.
    /// </summary>
    /// <exception cref="ArgumentException">The room name is not one, or the key is not 1 to 64 characters.</exception>
    Task<RoomPublished> PublishToRoomOnceAsync(string room, JsonElement payload, string idempotencyKey, string from = BrokerPublisher.DefaultFrom,
        CancellationToken cancellationToken = default);

    /// <summary>Sends <c>direct</c> to every connection of <paramref name="user"/>, on any node; returns how many connections got it.</summary>
    /// <exception cref="ArgumentException">The user id is empty or longer than 256 characters.</exception>
    Task<int> SendToUserAsync(string user, JsonElement payload, string from = BrokerPublisher.DefaultFrom, CancellationToken cancellationToken = default);

    /// <summary>
    /// Sends <c>message</c> (room null) to every connection of <paramref name="route"/> on every node
    /// of the cluster (one network message per node). Returns the offset this node gave it (each node
    /// numbers its route's messages itself; unchanged, 0 at first, when nobody is on the route here).
    /// </summary>
    Task<long> BroadcastToRouteAsync(string route, JsonElement payload, string from = BrokerPublisher.DefaultFrom, CancellationToken cancellationToken = default);

    /// <summary>
    /// The first page of <paramref name="room"/>'s members (up to 100 user ids, ordered ordinally),
    /// its user count, offset and epoch; <see cref="RoomPresence.Next"/> continues when more remain.
    /// </summary>
    /// <exception cref="ArgumentException">The room name does not match <c>^[A-Za-z0-9_.:-]{1,128}$</c>.</exception>
    Task<RoomPresence> GetRoomAsync(string room, CancellationToken cancellationToken = default);

    /// <summary>
    /// One page of <paramref name="room"/>'s members (PROTOCOL §9.3): up to <paramref name="limit"/>
    /// user ids (1 to 1000), ordered ordinally, after <paramref name="cursor"/> (a previous page's
    /// <see cref="RoomPresence.Next"/>; null: from the first), with the room's user count, offset and epoch.
    /// </summary>
    /// <remarks>
    /// The default implementation pages what <see cref="GetRoomAsync(string, CancellationToken)"/>
    /// returns, for implementations written before paging; the broker's own asks the room for the page.
    /// </remarks>
    /// <exception cref="ArgumentException">A bad room name, a limit outside 1..1000, or a cursor this broker did not issue.</exception>
    async Task<RoomPresence> GetRoomAsync(string room, int limit, string? cursor, CancellationToken cancellationToken = default)
    {
        var (after, _) = RoomPresence.CheckPage(limit, cursor);
        var all = await GetRoomAsync(room, cancellationToken);
        var sorted = all.Members.Where(m => after is null || string.CompareOrdinal(m, after) > 0).Order(StringComparer.Ordinal).ToArray();
        var page = sorted.Take(limit).ToArray();
        return all with
        {
            Members = page,
            Count = Math.Max(all.Count, all.Members.Length),
            Next = sorted.Length > limit ? RoomMembersCursor.Encode(page[^1]) : null,
        };
    }

    /// <summary>Whether <paramref name="user"/> is connected anywhere in the cluster, with how many connections, in which rooms.</summary>
    /// <exception cref="ArgumentException">The user id is empty or longer than 256 characters.</exception>
    Task<UserPresence> GetUserAsync(string user, CancellationToken cancellationToken = default);

    /// <summary>
    /// Closes every connection of <paramref name="user"/>, on any node: with 4500 (clients reconnect
    /// and recover) when <paramref name="reconnect"/>, else 4403 (they stay away). Returns how many were closed.
    /// </summary>
    /// <exception cref="ArgumentException">The user id is empty or longer than 256 characters.</exception>
    Task<int> DisconnectUserAsync(string user, bool reconnect = true, CancellationToken cancellationToken = default);
}

/// <summary>A room publish the room accepted: its offset and the room's epoch (PROTOCOL §9.1).</summary>
public sealed record RoomPublished(long Offset, string Epoch);

/// <summary>
/// A room's members (one page of them), offset and epoch (also the body of <c>GET /api/rooms/{room}</c>).
/// </summary>
public sealed record RoomPresence(string Room, string[] Members, long Offset, string Epoch)
{
    /// <summary>Users in the room now (distinct users, not connections), whatever the page holds.</summary>
    public int Count { get; init; }

    /// <summary>The cursor of the next page when more members remain, else null (left out of the JSON).</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public string? Next { get; init; }

    /// <summary>Checks a page request; returns the user id the page starts after (null: the first page).</summary>
    /// <exception cref="ArgumentException">A limit outside 1..1000, or a cursor this broker did not issue.</exception>
    public static (string? After, int Limit) CheckPage(int limit, string? cursor)
    {
        if (limit is < 1 or > Contracts.Cluster.RoomCommands.GetRoomInfo.MaxLimit)
            throw new ArgumentOutOfRangeException(nameof(limit), limit, "limit must be between 1 and 1000");
        if (cursor is null) return (null, limit);
        if (!RoomMembersCursor.TryDecode(cursor, out var after)) throw new ArgumentException("cursor is not one this broker issued", nameof(cursor));
        return (after, limit);
    }
}

/// <summary>A user's connections and rooms across the cluster (also the body of <c>GET /api/users/{user}</c>).</summary>
public sealed record UserPresence(string User, bool Online, int Connections, string[] Rooms);

/// <summary>Payload conveniences over <see cref="IBrokerPublisher"/>: typed values (with or without a <see cref="JsonTypeInfo{T}"/>).</summary>
public static class BrokerPublisherExtensions
{
    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);

    /// <summary>Publishes <paramref name="payload"/> serialized with <paramref name="typeInfo"/>.</summary>
    public static Task<long> PublishToRoomAsync<T>(this IBrokerPublisher publisher, string room, T payload, JsonTypeInfo<T> typeInfo,
        string from = BrokerPublisher.DefaultFrom, CancellationToken cancellationToken = default) =>
        publisher.PublishToRoomAsync(room, JsonSerializer.SerializeToElement(payload, typeInfo), from, cancellationToken);

    /// <summary>Publishes <paramref name="payload"/> serialized by reflection (camelCase).</summary>
    public static Task<long> PublishToRoomAsync<T>(this IBrokerPublisher publisher, string room, T payload,
        string from = BrokerPublisher.DefaultFrom, CancellationToken cancellationToken = default) =>
        publisher.PublishToRoomAsync(room, ToElement(payload), from, cancellationToken);

    /// <summary>Sends <paramref name="payload"/> serialized with <paramref name="typeInfo"/>.</summary>
    public static Task<int> SendToUserAsync<T>(this IBrokerPublisher publisher, string user, T payload, JsonTypeInfo<T> typeInfo,
        string from = BrokerPublisher.DefaultFrom, CancellationToken cancellationToken = default) =>
        publisher.SendToUserAsync(user, JsonSerializer.SerializeToElement(payload, typeInfo), from, cancellationToken);

    /// <summary>Sends <paramref name="payload"/> serialized by reflection (camelCase).</summary>
    public static Task<int> SendToUserAsync<T>(this IBrokerPublisher publisher, string user, T payload,
        string from = BrokerPublisher.DefaultFrom, CancellationToken cancellationToken = default) =>
        publisher.SendToUserAsync(user, ToElement(payload), from, cancellationToken);

    /// <summary>Broadcasts <paramref name="payload"/> serialized with <paramref name="typeInfo"/>.</summary>
    public static Task<long> BroadcastToRouteAsync<T>(this IBrokerPublisher publisher, string route, T payload, JsonTypeInfo<T> typeInfo,
        string from = BrokerPublisher.DefaultFrom, CancellationToken cancellationToken = default) =>
        publisher.BroadcastToRouteAsync(route, JsonSerializer.SerializeToElement(payload, typeInfo), from, cancellationToken);

    /// <summary>Broadcasts <paramref name="payload"/> serialized by reflection (camelCase).</summary>
    public static Task<long> BroadcastToRouteAsync<T>(this IBrokerPublisher publisher, string route, T payload,
        string from = BrokerPublisher.DefaultFrom, CancellationToken cancellationToken = default) =>
        publisher.BroadcastToRouteAsync(route, ToElement(payload), from, cancellationToken);

    // Reflection serialization: not trim/AOT safe; the JsonTypeInfo overloads are.
    private static JsonElement ToElement<T>(T payload) =>
        payload is JsonElement element ? element : JsonSerializer.SerializeToElement(payload, Web);
}
