namespace Broker.Actors.Rooms;

/// <summary>
/// The application's room rules: may this user join, or publish to, this room? Asked by the
/// user's connection before the command leaves the node; a "no" is an <c>error forbidden</c>.
/// Register your own after <c>AddBroker</c> (<c>services.AddSingleton&lt;IRoomAuthorizer, MyRules&gt;()</c>).
/// Calls run concurrently for different connections; keep them fast (they hold that connection's next frame).
/// </summary>
public interface IRoomAuthorizer
{
    ValueTask<bool> MayJoinAsync(string userId, string room, CancellationToken cancellationToken = default);

    ValueTask<bool> MayPublishAsync(string userId, string room, CancellationToken cancellationToken = default);
}

/// <summary>The default: every authenticated user may join and publish to every room. Skipped on the hot path.</summary>
public sealed class AllowAllRooms : IRoomAuthorizer
{
    public static readonly AllowAllRooms Instance = new();

    public ValueTask<bool> MayJoinAsync(string userId, string room, CancellationToken cancellationToken = default) => ValueTask.FromResult(true);

    public ValueTask<bool> MayPublishAsync(string userId, string room, CancellationToken cancellationToken = default) => ValueTask.FromResult(true);
}
