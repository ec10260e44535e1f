using System.Collections.Concurrent;
using Broker.Actors.Auth;

namespace Broker.TestKit;

/// <summary>
/// An <see cref="ITokenValidator"/> with a fixed table: a token is valid exactly when the test
/// registered it, for the user and expiry the test chose. Anything else is "invalid token".
/// </summary>
public sealed class FakeTokenValidator : ITokenValidator
{
    private readonly ConcurrentDictionary<string, AuthenticatedUser> _valid = new(StringComparer.Ordinal);

    /// <summary>Makes <paramref name="token"/> valid for <paramref name="user"/> until <paramref name="expiresAt"/>.</summary>
    public FakeTokenValidator Accept(string token, string user, DateTimeOffset? expiresAt)
    {
        _valid[token] = new AuthenticatedUser(user, expiresAt);
        return this;
    }

    public Task<TokenValidation> ValidateAsync(string token, CancellationToken cancellationToken = default) =>
        Task.FromResult(_valid.TryGetValue(token, out var user)
            ? TokenValidation.Valid(user)
            : TokenValidation.Invalid("unknown token"));
}
