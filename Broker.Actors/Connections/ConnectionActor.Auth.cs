using Akka.Actor;
using Akka.Event;
using Broker.Actors.Auth;
using Broker.Actors.Observability;
using Broker.Contracts.Cluster;
using Broker.Contracts.Protocol;

namespace Broker.Actors.Connections;

/// <summary>The token: the first <c>auth</c> frame, refreshes, expiry, and the user directory's per-user cap.</summary>
public sealed partial class ConnectionActor
{
    private ICancelable? _expiry; // the token-expiry timer, when the token has an expiry

    /// <summary>Before authentication only an <c>auth</c> frame is accepted (PROTOCOL §2).</summary>
    private void OnFirstFrame(InboundFrame frame)
    {
        var parsed = frame.Kind == InboundKind.Text ? FrameParser.Parse(frame.Utf8) : default;
        if (parsed.Command is AuthCommand auth)
        {
            CheckToken(auth, timeout: null); // the auth deadline bounds it
            return;
        }
        ConnectionTelemetry.AuthFailed(Context.System, _info, AuthFailureReasons.NoAuthFrame, "first frame was not auth");
        Reject(parsed.Command?.Id ?? parsed.Error?.Id, "the first frame must be {\"type\":\"auth\",\"data\":{\"token\":\"…\"}}");
    }

    /// <summary>Checks a token off this actor's thread, the stream's ack held until <see cref="TokenChecked"/> comes back.</summary>
    private void CheckToken(AuthCommand auth, TimeSpan? timeout)
    {
        // Bounded for a refresh: a validator that hangs (e.g. fetching signing keys) answers
        // `unavailable` and the connection keeps its current token; it is not a rejection.
        var (holdId, token) = Hold(timeout, auth.Id, "the token check did not answer in time; the current token stays, refresh again");
        _tokens.ValidateAsync(auth.Token, token).PipeTo(Self,
            success: v => new TokenChecked(v, auth.Id, holdId),
            failure: _ => new TokenChecked(TokenValidation.Invalid("validator failed", TokenFailure.Unavailable), auth.Id, holdId));
    }

    private void OnAuthChecked(TokenChecked result)
    {
        // Clock skew lets a just-expired token validate; a connection must not outlive it even briefly.
        if (result.Result.User is { } user && !IsExpired(user))
        {
            BecomeAuthenticated(user);
            AckStream();
            return;
        }
        var (kind, failure) = result.Result.User is null
            ? (result.Result.Kind, result.Result.Failure)
            : (TokenFailure.Expired, "token expired");
        Log.Info("Connection {ConnectionId} rejected: {Reason}", _info.ConnectionId, failure);
        ConnectionTelemetry.AuthFailed(Context.System, _info, AuthFailureReasons.For(kind), failure);
        Reject(result.Id, ReservedSubjects.RefusalFor(kind, "invalid token"));
    }

    private void OnRefreshChecked(TokenChecked result)
    {
        AckStream();
        if (result.Result.User is { } user && user.UserId == _user!.UserId && !IsExpired(user))
        {
            _user = user;
            ScheduleExpiry(user);
            Send(ServerFrames.Refreshed(result.Id, user.ExpiresAt?.ToUnixTimeMilliseconds() ?? 0));
            return;
        }
        var why = result.Result.User is null ? result.Result.Failure : "different subject";
        Log.Info("Connection {ConnectionId} refresh rejected: {Reason}", _info.ConnectionId, why);
        ConnectionTelemetry.AuthFailed(Context.System, _info, AuthFailureReasons.RefreshRejected, why);
        Reject(result.Id, result.Result.User is null ? ReservedSubjects.RefusalFor(result.Result.Kind, "invalid token") : "a refresh must be for the same user");
    }

    private void BecomeAuthenticated(AuthenticatedUser user)
    {
        _user = user;
        Context.Parent.Tell(new ConnectionMessages.Authenticated(user.UserId));
        ConnectionTelemetry.Authenticated(Context.System, _info, user.UserId);
        // Anonymous ids are one per connection: a cap would never count past 1.
        var limit = _info.Route.Anonymous && _info.User is null ? 0 : _settings.MaxConnectionsPerUser;
        _services?.Users.Tell(new UserCommands.RegisterConnection(user.UserId, _info.ConnectionId, Self, Limit: limit));
        ScheduleExpiry(user);
        Send(ServerFrames.Welcome(new WelcomeData(
            _info.ConnectionId,
            user.UserId,
            _settings.NodeName,
            user.ExpiresAt?.ToUnixTimeMilliseconds(),
            new HeartbeatData((long)_settings.HeartbeatInterval.TotalMilliseconds, (long)_settings.HeartbeatTimeout.TotalMilliseconds),
            _info.Session)));
        _heartbeat.Arm(); // after welcome: the supervisor's tick may ping from now on, and nothing precedes welcome (§3)
    }

    /// <summary>The user directory counted this one past <c>Broker:Limits:MaxConnectionsPerUser</c>.</summary>
    private void OnConnectionRefused(UserEvents.ConnectionRefused refused)
    {
        Log.Info("Connection {ConnectionId} refused: user at its cap of {Limit} connections", _info.ConnectionId, refused.Limit);
        BrokerMetrics.ConnectionLimitRefused(perUser: true);
        Send(ServerFrames.Error(null, ErrorCodes.Forbidden,
            $"too many connections for this user (at most {refused.Limit}); close another connection first"));
        CloseWith(Close.TooManyConnections);
    }

    private void OnTokenExpired()
    {
        // A timer cancelled by a refresh may still have fired (or one may fire a tick early):
        // only a token that is really over ends the connection; otherwise wait for the current one.
        if (IsExpired(_user!)) CloseWith(Close.TokenExpired);
        else ScheduleExpiry(_user!);
    }

    private bool IsExpired(AuthenticatedUser user) => user.ExpiresAt is { } expiresAt && expiresAt <= Context.System.Scheduler.Now;

    private void ScheduleExpiry(AuthenticatedUser user)
    {
        // A plain scheduled tell rather than IWithTimers: the timer scheduler's per-actor tables
        // were a visible share of an idle connection. A refresh cancels and reschedules; a tell
        // that was already on its way is ignored (TokenExpired checks the current token).
        _expiry?.Cancel();
        _expiry = null;
        if (user.ExpiresAt is not { } expiresAt) return;
        var delay = expiresAt - Context.System.Scheduler.Now;
        if (delay <= TimeSpan.Zero) Self.Tell(TokenExpired.Instance);
        else _expiry = Context.System.Scheduler.ScheduleTellOnceCancelable(delay, Self, TokenExpired.Instance, ActorRefs.NoSender);
    }

    /// <summary>Unauthorized: an error frame, then close 4401 (PROTOCOL §2).</summary>
    private void Reject(string? id, string message)
    {
        Send(ServerFrames.Error(id, ErrorCodes.Unauthorized, message));
        CloseWith(Close.Unauthorized);
    }

    private sealed record TokenChecked(TokenValidation Result, string? Id, int HoldId);

    private sealed class TokenExpired { public static readonly TokenExpired Instance = new(); private TokenExpired() { } }
}
