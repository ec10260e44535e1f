using Akka.Actor;
using static Broker.Contracts.Cluster.UserCommands;
using static Broker.Contracts.Cluster.UserEvents;

namespace Broker.Actors.Users;

/// <summary>
/// One per node: the node's connections register with the sharded user directory through it, so
/// a user connected here stays reachable by <c>send</c> and listed by <c>/api/users/{user}</c> when
/// the node hosting the user's entry dies (PROTOCOL §9.1). It keeps what it registered, watches
/// each user's entry once it has confirmed a registration, and when that entry is gone registers
/// the user's connections here again, repeating until the next entry confirms (the first attempt
/// may still be routed to the dead node). Only a connection's first registration carries the
/// user's connection cap; a refusal is passed on to the connection, which closes 4403. Everything
/// else (<c>send</c>, status) passes through.
/// </summary>
public sealed class UserHub : ReceiveActor, IWithTimers
{
    /// <summary>How often a registration is sent again while the user's new entry has not confirmed it.</summary>
    public static readonly TimeSpan DefaultRetryInterval = TimeSpan.FromSeconds(1);

    private readonly IActorRef _users;
    private readonly TimeSpan _retryInterval;
    private readonly Dictionary<string, LocalUser> _byUser = new(StringComparer.Ordinal);
    private readonly Dictionary<IActorRef, string> _userByEntry = new();
    private readonly Dictionary<long, PendingSend> _sends = new();
    private readonly TimeSpan _answerTimeout;
    private long _seq;

    public UserHub(IActorRef users, TimeSpan? retryInterval = null, TimeSpan? answerTimeout = null)
    {
        _users = users;
        _retryInterval = retryInterval ?? DefaultRetryInterval;
        _answerTimeout = answerTimeout ?? Rooms.RoomHub.DefaultFirstAnswerTimeout;
        Receive<RegisterConnection>(register =>
        {
            if (!_byUser.TryGetValue(register.UserId, out var user)) _byUser[register.UserId] = user = new LocalUser();
            user.Connections[register.ConnectionId] = new LocalConnection(register.Connection, []);
            _users.Tell(register with { Confirm = true });
            // Until an entry confirms, keep registering: this one too may be routed to a node that just died.
            if (user.Entry is null) Timers.StartPeriodicTimer(RetryKey(register.UserId), new RetryRegistration(register.UserId), _retryInterval);
        });
        Receive<UpdateRooms>(update =>
        {
            if (_byUser.TryGetValue(update.UserId, out var user) && user.Connections.TryGetValue(update.ConnectionId, out var connection))
                user.Connections[update.ConnectionId] = connection with { Rooms = update.Rooms };
            _users.Tell(update);
        });
        Receive<UnregisterConnection>(unregister =>
        {
            if (_byUser.TryGetValue(unregister.UserId, out var user) && user.Connections.Remove(unregister.ConnectionId) && user.Connections.Count == 0)
                Forget(unregister.UserId, user);
            _users.Tell(unregister);
        });
        // Past the user's cap: forgotten here (never registered again), and the connection closes 4403.
        Receive<ConnectionRefused>(refused =>
        {
            if (!_byUser.TryGetValue(refused.UserId, out var user) || !user.Connections.Remove(refused.ConnectionId, out var connection)) return;
            connection.Actor.Tell(refused);
            if (user.Connections.Count == 0) Forget(refused.UserId, user);
        });
        Receive<ConnectionRegistered>(registered =>
        {
            if (!_byUser.TryGetValue(registered.UserId, out var user) || Sender.Equals(user.Entry)) return;
            if (user.Entry is { } old)
            {
                Context.Unwatch(old);
                _userByEntry.Remove(old);
            }
            user.Entry = Sender;
            Context.Watch(Sender);
            _userByEntry[Sender] = registered.UserId;
            Timers.Cancel(RetryKey(registered.UserId));
        });
        Receive<Terminated>(t =>
        {
            if (!_userByEntry.Remove(t.ActorRef, out var userId) || !_byUser.TryGetValue(userId, out var user)) return;
            user.Entry = null;
            RegisterAgain(userId, user);
            Timers.StartPeriodicTimer(RetryKey(userId), new RetryRegistration(userId), _retryInterval);
        });
        Receive<RetryRegistration>(retry =>
        {
            if (_byUser.TryGetValue(retry.UserId, out var user) && user.Entry is null) RegisterAgain(retry.UserId, user);
            else Timers.Cancel(RetryKey(retry.UserId));
        });
        // A connection's send is answered through here: one routed to a node that just died is
        // lost unseen, and its sender must still hear something (PROTOCOL §9.1: unavailable, retry).
        Receive<SendToUser>(send =>
        {
            var seq = ++_seq;
            _sends[seq] = new PendingSend(Sender, send.RequestId, Context.System.Scheduler.Now + _answerTimeout);
            if (_sends.Count == 1) Timers.StartPeriodicTimer(SweepKey, SweepSends.Instance, _answerTimeout / 2);
            _users.Tell(send with { Seq = seq });
        });
        Receive<DirectDelivered>(delivered =>
        {
            if (_sends.Remove(delivered.Seq, out var send)) send.Connection.Tell(delivered with { Seq = 0 });
        });
        Receive<SweepSends>(_ =>
        {
            var now = Context.System.Scheduler.Now;
            foreach (var (seq, send) in _sends.ToArray())
            {
                if (send.Deadline > now) continue;
                _sends.Remove(seq);
                send.Connection.Tell(new SendUnanswered(send.RequestId));
            }
            if (_sends.Count == 0) Timers.Cancel(SweepKey);
        });
        // status, disconnect: the sender hears back from the entry itself.
        ReceiveAny(message => _users.Forward(message));
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IActorRef users, TimeSpan? retryInterval = null, TimeSpan? answerTimeout = null) =>
        Akka.Actor.Props.Create(() => new UserHub(users, retryInterval, answerTimeout));

    /// <summary>Hub → connection: its send got no answer in time (the user's entry is moving); tell the client <c>unavailable</c>.</summary>
    public sealed record SendUnanswered(string? RequestId);

    private void RegisterAgain(string userId, LocalUser user)
    {
        foreach (var (connectionId, connection) in user.Connections)
        {
            _users.Tell(new RegisterConnection(userId, connectionId, connection.Actor, Confirm: true));
            if (connection.Rooms.Length > 0) _users.Tell(new UpdateRooms(userId, connectionId, connection.Rooms));
        }
    }

    private void Forget(string userId, LocalUser user)
    {
        _byUser.Remove(userId);
        Timers.Cancel(RetryKey(userId));
        if (user.Entry is not { } entry) return;
        Context.Unwatch(entry);
        _userByEntry.Remove(entry);
    }

    private static string RetryKey(string userId) => "register:" + userId;

    private const string SweepKey = "sweep-sends";

    private sealed record PendingSend(IActorRef Connection, string? RequestId, DateTimeOffset Deadline);

    private sealed class SweepSends { public static readonly SweepSends Instance = new(); }

    /// <summary>A user's connections on this node, and the directory entry that confirmed them.</summary>
    private sealed class LocalUser
    {
        public Dictionary<string, LocalConnection> Connections { get; } = new(StringComparer.Ordinal);
        public IActorRef? Entry { get; set; }
    }

    private sealed record LocalConnection(IActorRef Actor, string[] Rooms);

    /// <summary>Timer tick: register a user's connections again until its new entry confirms.</summary>
    private sealed record RetryRegistration(string UserId);
}
