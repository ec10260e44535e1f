using System.Text.Json;
using Akka.Actor;
using Akka.Event;
using Broker.Actors.Handlers;
using Broker.Contracts.Protocol;

namespace Broker.Actors.Connections;

/// <summary>The application's handlers for the route's custom frame types.</summary>
public sealed partial class ConnectionActor
{
    /// <summary>
    /// Runs the application's handler off this actor's thread and holds the stream's ack until it
    /// answers, so the connection's replies keep the order of its requests.
    /// </summary>
    private void RunHandler(CustomCommand command)
    {
        var context = new BrokerMessageContext(_user!.UserId, _info.ConnectionId, _info.Route.Name, command.Type, command.Id);
        var (holdId, token) = Hold();
        // No hold timeout: the handler's own (real time, MessageHandlers.Timeout) ends the call with a failure.
        _held!.CancelAfter(_handlers!.Timeout);
        InvokeAsync(_handlers.Handlers[command.Type], context, command.Data, _handlers.Timeout, holdId, token)
            .PipeTo(Self, success: outcome => outcome, failure: e => new HandlerOutcome(context, null, e, holdId));
    }

    private static async Task<HandlerOutcome> InvokeAsync(
        IBrokerMessageHandler handler, BrokerMessageContext context, JsonElement data, TimeSpan timeout, int holdId, CancellationToken token)
    {
        try
        {
            // Task.Run: even a handler that works synchronously before its first await stays off the actor's thread.
            // WaitAsync: a handler that ignores its token still cannot hold the connection past the timeout.
            var reply = await Task.Run(() => handler.HandleAsync(context, data, token).AsTask(), token).WaitAsync(timeout, token);
            return new HandlerOutcome(context, reply, null, holdId);
        }
        catch (Exception e)
        {
            return new HandlerOutcome(context, null, e, holdId);
        }
    }

    private void OnHandlerOutcome(HandlerOutcome outcome)
    {
        if (outcome.Failure is { } failure)
        {
            // The exception stays in the server log; the client learns only that its request failed.
            Log.Error(failure, "Handler for '{Type}' failed on connection {ConnectionId}", outcome.Context.Type, _info.ConnectionId);
            Send(ServerFrames.Error(outcome.Context.RequestId, ErrorCodes.Internal, $"the server could not handle '{outcome.Context.Type}'"));
        }
        else if (outcome.Reply is { } reply)
        {
            Send(reply.ToFrame(outcome.Context.RequestId));
        }
        AckStream();
    }

    private sealed record HandlerOutcome(BrokerMessageContext Context, HandlerReply? Reply, Exception? Failure, int HoldId);
}
