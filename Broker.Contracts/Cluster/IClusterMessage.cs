namespace Broker.Contracts.Cluster;

/// <summary>
/// Marks a message that may cross the network between nodes. <c>AddBrokerSerializer()</c> binds
/// this interface to the broker's own serializer (Broker.Actors/Serialization/BrokerClusterSerializer),
/// so none of them ever falls back to Akka's default JSON serializer.
/// </summary>
public interface IClusterMessage;
