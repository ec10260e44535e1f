using Broker.Actors.Observability;
using Broker.Contracts.Protocol;

namespace Broker.Actors.Connections;

/// <summary>
/// The heartbeat. On a node the supervisor's tick walks every connection's
/// <see cref="ConnectionHeartbeat"/> and pings the socket itself (no message per connection); the
/// actor reports signs of life and holds, and closes a connection the tick found silent. A
/// <see cref="ConnectionMessages.HeartbeatTick"/> sent to the actor applies the same rule here (specs
/// and test kits drive one connection that way).
/// </summary>
public sealed partial class ConnectionActor
{
    private readonly ConnectionHeartbeat _heartbeat;

    private void OnHeartbeatTick()
    {
        switch (_heartbeat.Tick(Context.System.Scheduler.Now.UtcTicks, _settings.HeartbeatInterval.Ticks))
        {
            case HeartbeatVerdict.Ping:
                Send(ServerFrames.Ping);
                break;
            case HeartbeatVerdict.Silent:
                OnHeartbeatSilent();
                break;
        }
    }

    /// <summary>No frame since the last ping, as of the last tick (PROTOCOL §5).</summary>
    private void OnHeartbeatSilent()
    {
        if (_closed) return;
        ConnectionTelemetry.HeartbeatTerminated();
        CloseWith(Close.HeartbeatTimeout);
    }

    /// <summary>
    /// The transport wrote and flushed the ping to a client that cannot answer it (a receive-only
    /// SSE stream): that counts as life. A peer that stopped reading stalls the flush, so it never
    /// sends this and is cut off at the next tick as a silent WebSocket would be; a vanished peer
    /// ends the stream when a write fails. Transports whose client can answer never send it.
    /// </summary>
    private void OnStreamAlive() => _heartbeat.SignOfLife();
}
