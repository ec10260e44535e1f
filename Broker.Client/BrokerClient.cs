namespace Broker.Client;

/// <summary>Placeholder: the .NET client for the Broker protocol (issue #6) lands here.</summary>
public sealed class BrokerClient
{
}
