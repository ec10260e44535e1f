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

    /// <summary>The members (user ids), offset and epoch of <paramref name="room"/>.</summary>
    /// <exception cref="ArgumentException">The room name does not match <c>^[A-Za-z0-9_.:-]{1,128}$</c>.</exception>
    Task<RoomPresence> GetRoomAsync(string room, CancellationToken cancellationToken = default);

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

/// <summary>A room's members, offset and epoch (also the body of <c>GET /api/rooms/{room}</c>).</summary>
public sealed record RoomPresence(string Room, string[] Members, long Offset, string Epoch);

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
