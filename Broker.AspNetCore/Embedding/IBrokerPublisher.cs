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
/// Every call waits for the node to have started, then asks the actors; it fails with a
/// timeout exception if they do not answer within <see cref="BrokerPublisher.AskTimeout"/>.
/// </remarks>
public interface IBrokerPublisher
{
    /// <summary>Publishes to <paramref name="room"/> (members get <c>message</c>); returns the room offset.</summary>
    /// <exception cref="ArgumentException">The room name does not match <c>^[A-Za-z0-9_.:-]{1,128}$</c>.</exception>
    Task<long> PublishToRoomAsync(string room, JsonElement payload, string from = BrokerPublisher.DefaultFrom, CancellationToken cancellationToken = default);

    /// <summary>Sends <c>direct</c> to every connection of <paramref name="user"/>, on any node; returns how many connections got it.</summary>
    /// <exception cref="ArgumentException">The user id is empty or longer than 256 characters.</exception>
    Task<int> SendToUserAsync(string user, JsonElement payload, string from = BrokerPublisher.DefaultFrom, CancellationToken cancellationToken = default);

    /// <summary>
    /// Sends <c>message</c> (room null) to every connection of <paramref name="route"/> on every node
    /// of the cluster (one network message per node). Returns the offset this node gave it (each node
    /// numbers its route's messages itself; unchanged, 0 at first, when nobody is on the route here).
    /// </summary>
    Task<long> BroadcastToRouteAsync(string route, JsonElement payload, string from = BrokerPublisher.DefaultFrom, CancellationToken cancellationToken = default);
}

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
