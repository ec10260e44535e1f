using Broker.Actors.Observability;
using Broker.Contracts.Protocol;

namespace Broker.Actors.Connections;

/// <summary>The heartbeat: a ping each tick of the supervisor's timer, a close for a client silent since the last one.</summary>
public sealed partial class ConnectionActor
{
    private bool _awaitingLife; // a ping went out and no frame has come in since
    private long _pingedAt; // the scheduler's UtcTicks when that ping went out

    private void OnHeartbeatTick()
    {
        // Before auth the deadline governs (PROTOCOL §2), and nothing may precede welcome (§3).
        if (_user is null) return;
        var now = Context.System.Scheduler.Now.UtcTicks;
        // While a handler, the room rules or a token check hold the stream, the client's frames
        // wait unread: its silence proves nothing.
        if (_awaitingLife && _held is null)
        {
            // Ticks queue up while the node is stalled, and the one right behind the tick that sent
            // the ping is no new interval: the client has had no time to answer it (with a short
            // interval this closed live clients). A clock that went backwards does not save a
            // silent client.
            var sincePing = now - _pingedAt;
            if (sincePing >= 0 && sincePing < _settings.HeartbeatInterval.Ticks / 2) return;
            ConnectionTelemetry.HeartbeatTerminated();
            CloseWith(Close.HeartbeatTimeout);
            return;
        }
        _awaitingLife = true;
        _pingedAt = now;
        Send(ServerFrames.Ping);
    }

    /// <summary>
    /// The transport wrote and flushed the ping to a client that cannot answer it (a receive-only
    /// SSE stream): that counts as life. A peer that stopped reading stalls the flush, so it never
    /// sends this and is cut off at the next tick as a silent WebSocket would be; a vanished peer
    /// ends the stream when a write fails. Transports whose client can answer never send it.
    /// </summary>
    private void OnStreamAlive() => _awaitingLife = false;
}
