using System.Security.Claims;
using Broker.AspNetCore.Configuration;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Broker.AspNetCore.Auth;

/// <summary>
/// Mints HS256 tokens with the configured key, for <c>POST /auth/dev-token</c> (Development only)
/// and for tests. Not a production identity provider.
/// </summary>
public sealed class DevTokenIssuer(IOptions<BrokerOptions> options, JwtKeys keys, TimeProvider clock)
{
    private readonly JsonWebTokenHandler _handler = new();

    /// <summary>A signed token for <paramref name="user"/> valid for <paramref name="lifetime"/>.</summary>
    public string Issue(string user, TimeSpan lifetime, params string[] scopes)
    {
        if (keys.Hmac is null) throw new InvalidOperationException("No HS256 signing key is configured.");
        var now = clock.GetUtcNow().UtcDateTime;
        var claims = new Dictionary<string, object> { ["sub"] = user };
        if (scopes.Length > 0) claims["scope"] = string.Join(' ', scopes);
        return _handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = options.Value.Jwt.Issuer,
            Audience = options.Value.Jwt.Audience,
            Claims = claims,
            IssuedAt = now,
            NotBefore = now,
            Expires = now + lifetime,
            SigningCredentials = new SigningCredentials(keys.Hmac, SecurityAlgorithms.HmacSha256),
        });
    }
}
