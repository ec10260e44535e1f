namespace Broker.Contracts.Cluster;

/// <summary>Route-wide broadcasts between nodes: one message per node, never per connection.</summary>
public static class RouteCommands
{
    /// <summary>
    /// Node → every other node's connection supervisor: deliver a <c>message</c> (room null) to this
    /// node's connections of <paramref name="Route"/>, numbered with the receiving node's own route
    /// offset. <paramref name="Payload"/> is raw UTF-8 JSON. Nothing is replied.
    /// </summary>
    public sealed record DeliverToRoute(string Route, string From, byte[] Payload) : IClusterMessage;
}
