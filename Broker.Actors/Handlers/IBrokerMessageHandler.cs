using System.Text.Json;

namespace Broker.Actors.Handlers;

/// <summary>
/// Handles one application-defined client → server message type (beyond PROTOCOL §3), e.g.
/// <c>{"type":"order.track","id":"1","data":{"order":"o-1"}}</c>. Register it with
/// <c>AddBrokerMessageHandler&lt;T&gt;("order.track")</c>.
/// </summary>
/// <remarks>
/// Called off the connection actor's thread, for authenticated connections only, after the frame
/// passed the size and rate limits. The connection's next frame waits until this returns (so its
/// replies keep the order of its requests); keep it fast, it is cancelled after the registry's
/// timeout. A thrown exception becomes <c>error internal</c> for that request; the connection stays
/// open. One instance serves every connection concurrently.
/// </remarks>
public interface IBrokerMessageHandler
{
    /// <summary>Handles one frame; returns the reply to send (carrying the request's <c>id</c>), or null for none.</summary>
    /// <param name="context">Who sent it, on which connection and route.</param>
    /// <param name="data">The frame's <c>data</c> as sent (any JSON value; <see cref="JsonValueKind.Undefined"/> when absent). Validate it.</param>
    ValueTask<HandlerReply?> HandleAsync(BrokerMessageContext context, JsonElement data, CancellationToken cancellationToken);
}

/// <summary>Who sent a custom message and where from.</summary>
/// <param name="UserId">The authenticated user (the JWT <c>sub</c>, or <c>anon-…</c> on anonymous routes).</param>
/// <param name="ConnectionId">The sending connection, unique across the cluster.</param>
/// <param name="Route">The route the connection came in on (<c>/ws/{route}</c>).</param>
/// <param name="Type">The frame's <c>type</c>.</param>
/// <param name="RequestId">The frame's <c>id</c>, echoed on the reply; null when the client sent none.</param>
public sealed record BrokerMessageContext(string UserId, string ConnectionId, string Route, string Type, string? RequestId);
