using Akka.Actor;
using Akka.Event;
using Broker.Contracts.Protocol;

namespace Broker.Actors.Connections;

/// <summary>
/// The one way an async step (a token check, the room rules, a custom handler) holds the inbound
/// frame's ack: the stream hands over nothing more until the step answers, so the connection's
/// replies keep the order of its requests. One hold at a time, numbered, so a late answer or a
/// stale timeout of an earlier one is dropped.
/// </summary>
public sealed partial class ConnectionActor
{
    private CancellationTokenSource? _held; // set while an async step holds the stream's ack
    private ICancelable? _holdTimer; // answers that step with `unavailable` if it takes too long
    private int _holdId; // which hold an answer or a timeout belongs to

    /// <summary>
    /// Holds the ack. With a <paramref name="timeout"/> (virtual time: the actor's scheduler, so
    /// specs advance it), the request gets <c>unavailable</c> with <paramref name="timeoutMessage"/>
    /// after it and the stream flows again. The token tells the step when nobody waits any more.
    /// </summary>
    private (int HoldId, CancellationToken Token) Hold(TimeSpan? timeout = null, string? requestId = null, string timeoutMessage = "")
    {
        var held = _held = new CancellationTokenSource();
        _heartbeat.Hold(true);
        var holdId = ++_holdId;
        if (timeout is { } after)
            _holdTimer = Context.System.Scheduler.ScheduleTellOnceCancelable(
                after, Self, new HoldTimedOut(holdId, requestId, timeoutMessage), ActorRefs.NoSender);
        return (holdId, held.Token);
    }

    /// <summary>True (and the hold ended) when an answer belongs to the hold still waiting; a late one is dropped.</summary>
    private bool Release(int holdId)
    {
        if (_held is null || holdId != _holdId) return false;
        EndHold();
        return true;
    }

    private void EndHold()
    {
        _holdTimer?.Cancel();
        _holdTimer = null;
        if (_held is not { } held) return;
        _held = null;
        _heartbeat.Hold(false);
        held.Cancel(); // a step still running learns nobody waits for it
        held.Dispose();
    }

    private void OnHoldTimedOut(HoldTimedOut timedOut)
    {
        if (!Release(timedOut.HoldId)) return;
        Log.Warning("Connection {ConnectionId}: {Message}", _info.ConnectionId, timedOut.Message);
        // PROTOCOL §9.1: not applied, retry. The connection stays, with its current token.
        Send(ServerFrames.Error(timedOut.RequestId, ErrorCodes.Unavailable, timedOut.Message));
        AckStream();
    }

    private sealed record HoldTimedOut(int HoldId, string? RequestId, string Message);
}
