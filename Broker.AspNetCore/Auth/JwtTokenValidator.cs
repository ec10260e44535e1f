using Broker.Actors.Auth;
using Broker.AspNetCore.Configuration;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Broker.AspNetCore.Auth;

/// <summary>
/// Validates bearer JWTs (PROTOCOL §2): signature with a pinned algorithm (HS256 with the
/// configured secret, RS256 with a configured public key chosen by <c>kid</c>), issuer, audience,
/// required <c>exp</c>, lifetime with at most 30 s skew, and a non-empty <c>sub</c> that is not
/// reserved (<see cref="ReservedSubjects"/>). Failure
/// reasons are safe to log: they never include the token.
/// </summary>
public sealed class JwtTokenValidator : ITokenValidator
{
    private readonly JsonWebTokenHandler _handler = new() { MapInboundClaims = false };
    private readonly JwtOptions _options;
    private readonly JwtKeys _keys;
    private readonly TokenValidationParameters _parameters;

    public JwtTokenValidator(IOptions<BrokerOptions> options, JwtKeys keys)
    {
        _options = options.Value.Jwt;
        _keys = keys;
        _handler.MaximumTokenSizeInBytes = _options.MaxTokenLength;
        var algorithms = new List<string>();
        if (keys.Hmac is not null) algorithms.Add(SecurityAlgorithms.HmacSha256);
        if (keys.Rsa.Count > 0) algorithms.Add(SecurityAlgorithms.RsaSha256);
        _parameters = new TokenValidationParameters
        {
            ValidIssuer = _options.Issuer,
            ValidAudience = _options.Audience,
            ValidateIssuer = true,
            ValidateAudience = true,
            ValidateLifetime = true,
            ValidateIssuerSigningKey = true,
            RequireExpirationTime = true,
            RequireSignedTokens = true,
            RequireAudience = true,
            ClockSkew = _options.ClockSkew,
            ValidAlgorithms = algorithms,
            TryAllIssuerSigningKeys = false,
            IssuerSigningKeyResolver = ResolveKeys,
            NameClaimType = "sub",
        };
    }

    /// <summary>Validates a token and returns its user and scopes, or why it was rejected.</summary>
    public async Task<TokenValidation> ValidateAsync(string token, CancellationToken cancellationToken = default)
    {
        if (JwtChecks.BeforeParsing(token, _options.MaxTokenLength) is { } refused) return refused;
        if (!_keys.Any) return TokenValidation.Invalid("no signing key configured", TokenFailure.Unavailable);
        TokenValidationResult result;
        try
        {
            result = await _handler.ValidateTokenAsync(token, _parameters).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ArgumentException or SecurityTokenException)
        {
            return TokenValidation.Invalid("malformed token", TokenFailure.Malformed);
        }
        if (!result.IsValid) return JwtChecks.Refuse(result.Exception);
        var jwt = (JsonWebToken)result.SecurityToken;
        return JwtChecks.Accept(jwt.Subject, jwt.ValidTo, result.ClaimsIdentity);
    }

    private IEnumerable<SecurityKey> ResolveKeys(string token, SecurityToken securityToken, string kid, TokenValidationParameters parameters)
    {
        var alg = (securityToken as JsonWebToken)?.Alg;
        if (alg == SecurityAlgorithms.HmacSha256)
        {
            // HS256 never uses an RSA key, whatever the header says: that is the algorithm-confusion attack.
            if (_keys.Hmac is null || !string.IsNullOrEmpty(kid)) return [];
            return [_keys.Hmac];
        }
        if (alg == SecurityAlgorithms.RsaSha256 && !string.IsNullOrEmpty(kid) && _keys.Rsa.TryGetValue(kid, out var rsa))
            return [rsa];
        return [];
    }
}
