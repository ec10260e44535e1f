using Broker.Client;

namespace Broker.Bench.Load;

/// <summary>
/// The project's own .NET client (<see cref="BrokerClient"/>) as the broker's publishers and as a
/// share of its checked subscribers ("witnesses"): the numbers then hold for what users run, and
/// the benchmark exercises the client too. Reconnection is off: a drop must fail the run, not
/// be papered over by a resume.
/// </summary>
public static class OfficialClient
{
    /// <summary>Every n-th broker subscriber (offset by half, so never one of the slow 1%) is a BrokerClient.</summary>
    public const int WitnessEvery = 100;

    public static bool IsWitness(int subscriberId) => subscriberId % WitnessEvery == WitnessEvery / 2;

    public static async Task<BrokerClient> ConnectAsync(Uri endpoint, string token, CancellationToken cancellationToken,
        BrokerTransport transport = BrokerTransport.WebSocket)
    {
        var client = new BrokerClient(new BrokerClientOptions
        {
            Url = endpoint,
            Transport = transport,
            TokenProvider = _ => ValueTask.FromResult(token),
            Reconnect = new ReconnectOptions { Enabled = false },
            RequestTimeout = TimeSpan.FromSeconds(30),
        });
        try
        {
            await client.ConnectAsync(cancellationToken);
            return client;
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }
}
