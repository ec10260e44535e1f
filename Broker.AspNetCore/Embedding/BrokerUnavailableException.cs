namespace Broker.AspNetCore.Embedding;

/// <summary>
/// The broker could not serve the call now and did not apply it (PROTOCOL §9.1 <c>unavailable</c>):
/// a durable room whose store is unreachable, a room moving between nodes. Retry with backoff;
/// a publish retried with <see cref="IBrokerPublisher.PublishToRoomOnceAsync"/> and the same key is never applied twice.
/// </summary>
public sealed class BrokerUnavailableException(string message) : Exception(message);
