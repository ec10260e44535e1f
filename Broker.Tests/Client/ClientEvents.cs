using System.Threading.Channels;
using Broker.Client;
using Xunit.Sdk;

namespace Broker.Tests.Client;

/// <summary>
/// Records every event of a <see cref="BrokerClient"/> in arrival order, so a test can wait for
/// the next one of a kind (with a timeout) instead of sleeping.
/// </summary>
public sealed class ClientEvents
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private readonly Channel<RoomMessage> _messages = Channel.CreateUnbounded<RoomMessage>();
    private readonly Channel<DirectMessage> _directs = Channel.CreateUnbounded<DirectMessage>();
    private readonly Channel<PresenceChange> _presence = Channel.CreateUnbounded<PresenceChange>();
    private readonly Channel<RoomRecovered> _recovered = Channel.CreateUnbounded<RoomRecovered>();
    private readonly Channel<RoomResynced> _resynced = Channel.CreateUnbounded<RoomResynced>();
    private readonly Channel<ConnectionClosed> _closed = Channel.CreateUnbounded<ConnectionClosed>();
    private readonly Channel<BrokerClientState> _states = Channel.CreateUnbounded<BrokerClientState>();
    private readonly Channel<Exception> _errors = Channel.CreateUnbounded<Exception>();

    public ClientEvents(BrokerClient client)
    {
        client.MessageReceived += m => _messages.Writer.TryWrite(m);
        client.DirectReceived += m => _directs.Writer.TryWrite(m);
        client.PresenceChanged += p => _presence.Writer.TryWrite(p);
        client.Recovered += r => _recovered.Writer.TryWrite(r);
        client.Resynced += r => _resynced.Writer.TryWrite(r);
        client.Closed += c => _closed.Writer.TryWrite(c);
        client.StateChanged += s => _states.Writer.TryWrite(s);
        client.Error += e => _errors.Writer.TryWrite(e);
    }

    public Task<RoomMessage> MessageAsync() => NextAsync(_messages, "message");
    public Task<DirectMessage> DirectAsync() => NextAsync(_directs, "direct");
    public Task<PresenceChange> PresenceAsync() => NextAsync(_presence, "presence");
    public Task<RoomRecovered> RecoveredAsync() => NextAsync(_recovered, "recovered");
    public Task<RoomResynced> ResyncedAsync() => NextAsync(_resynced, "resynced");
    public Task<ConnectionClosed> ClosedAsync() => NextAsync(_closed, "closed");
    public Task<Exception> ErrorAsync() => NextAsync(_errors, "error");

    /// <summary>Waits for the state <paramref name="state"/>, skipping others.</summary>
    public async Task StateAsync(BrokerClientState state)
    {
        while (await NextAsync(_states, "state " + state) != state) { }
    }

    /// <summary>Waits for the client to go through <see cref="BrokerClientState.Reconnecting"/> back to <see cref="BrokerClientState.Connected"/>.</summary>
    public async Task ReconnectedAsync()
    {
        await StateAsync(BrokerClientState.Reconnecting);
        await StateAsync(BrokerClientState.Connected);
    }

    public bool TryTakeMessage(out RoomMessage message) => _messages.Reader.TryRead(out message);
    public bool TryTakeClosed(out ConnectionClosed closed) => _closed.Reader.TryRead(out closed!);
    public bool TryTakeRecovered(out RoomRecovered recovered) => _recovered.Reader.TryRead(out recovered!);
    public bool TryTakeResynced(out RoomResynced resynced) => _resynced.Reader.TryRead(out resynced!);

    public IReadOnlyList<BrokerClientState> DrainStates()
    {
        var list = new List<BrokerClientState>();
        while (_states.Reader.TryRead(out var s)) list.Add(s);
        return list;
    }

    private static async Task<T> NextAsync<T>(Channel<T> channel, string what)
    {
        try
        {
            return await channel.Reader.ReadAsync().AsTask().WaitAsync(Timeout);
        }
        catch (TimeoutException)
        {
            throw new XunitException($"No {what} event within {Timeout}.");
        }
    }
}
