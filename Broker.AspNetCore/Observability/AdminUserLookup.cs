using Akka.Actor;
using Broker.AspNetCore.Configuration;
using Broker.AspNetCore.Hosting;
using Broker.Contracts.Cluster;
using Microsoft.Extensions.Options;

namespace Broker.AspNetCore.Observability;

/// <summary>
/// <c>/admin/users/{user}</c>: asks the user's directory entry (the sharded user actor that the
/// back-end API's <c>GET /api/users/{user}</c> and disconnect also go through) for each of the
/// user's connections with its node and rooms.
/// </summary>
public sealed class AdminUserLookup(BrokerNode node, IOptions<BrokerOptions> options)
{
    private readonly TimeSpan _timeout = options.Value.Limits.AskTimeout;

    /// <exception cref="AskTimeoutException">The entry did not answer (it is moving to another node).</exception>
    public async Task<AdminUserResponse> GetAsync(string user, CancellationToken cancellationToken)
    {
        await node.Started.WaitAsync(cancellationToken);
        var found = await node.Users.Ask<UserEvents.UserConnections>(new UserCommands.GetUserConnections(user), _timeout, cancellationToken);
        return new AdminUserResponse(found.UserId, found.Connections.Length > 0, found.Connections,
            found.Connections.Select(c => c.Node).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray(),
            found.Connections.SelectMany(c => c.Rooms).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray());
    }
}
