namespace Broker.Tests.Observability;

/// <summary>
/// The broker's meter is static, so these tests run alone: nothing else in the process moves the
/// untagged counters while they read before/after values.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ObservabilityCollection : ICollectionFixture<ObservabilityHost>
{
    public const string Name = "Observability";
}
