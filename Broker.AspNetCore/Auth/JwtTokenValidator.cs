using System.Security.Claims;
using Broker.Actors.Auth;
using Broker.AspNetCore.Configuration;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Broker.AspNetCore.Auth;

/// <summary>The outcome of checking a token over HTTP, with the claims the API needs.</summary>
public sealed record JwtCheck(AuthenticatedUser? User, IReadOnlySet<string> Scopes, string? Failure);

/// <summary>
/// Validates bearer JWTs (PROTOCOL §2): signature with a pinned algorithm (HS256 with the
/// configured secret, RS256 with a configured public key chosen by <c>kid</c>), issuer, audience,
/// required <c>exp</c>, lifetime with at most 30 s skew, and a non-empty <c>sub</c> that is not
/// reserved (<see cref="ReservedSubjects"/>). Failure
/// reasons are safe to log: they never include the token.
/// </summary>
public sealed class JwtTokenValidator : ITokenValidator, IBearerTokenChecker
{
    private static readonly HashSet<string> NoScopes = new();
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

    public async Task<TokenValidation> ValidateAsync(string token, CancellationToken cancellationToken = default)
    {
        var check = await CheckAsync(token).ConfigureAwait(false);
        return check.User is { } user ? TokenValidation.Valid(user) : TokenValidation.Invalid(check.Failure!);
    }

    /// <summary>Validates a token and returns its user and scopes, or why it was rejected.</summary>
    public async Task<JwtCheck> CheckAsync(string? token)
    {
        if (string.IsNullOrEmpty(token)) return Fail("no token");
        if (token.Length > _options.MaxTokenLength) return Fail("token too large");
        if (!_keys.Any) return Fail("no signing key configured");
        TokenValidationResult result;
        try
        {
            result = await _handler.ValidateTokenAsync(token, _parameters).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ArgumentException or SecurityTokenException)
        {
            return Fail("malformed token");
        }
        if (!result.IsValid) return Fail(Describe(result.Exception));
        var jwt = (JsonWebToken)result.SecurityToken;
        var sub = jwt.Subject;
        if (string.IsNullOrEmpty(sub)) return Fail("token has no sub");
        if (ReservedSubjects.IsReserved(sub)) return Fail(ReservedSubjects.Failure);
        var user = new AuthenticatedUser(sub, new DateTimeOffset(jwt.ValidTo, TimeSpan.Zero));
        return new JwtCheck(user, ReadScopes(result.ClaimsIdentity), null);
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

    private static IReadOnlySet<string> ReadScopes(ClaimsIdentity identity)
    {
        var scopes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var claim in identity.FindAll("scope").Concat(identity.FindAll("scp")))
            foreach (var scope in claim.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                scopes.Add(scope);
        return scopes;
    }

    /// <summary>A loggable reason for a validation failure (never the token).</summary>
    internal static string Describe(Exception? e) => e switch
    {
        SecurityTokenExpiredException => "token expired",
        SecurityTokenNotYetValidException => "token not yet valid",
        SecurityTokenNoExpirationException => "token has no exp",
        SecurityTokenInvalidIssuerException => "wrong issuer",
        SecurityTokenInvalidAudienceException => "wrong audience",
        SecurityTokenInvalidAlgorithmException => "algorithm not allowed",
        SecurityTokenSignatureKeyNotFoundException => "unknown signing key",
        SecurityTokenInvalidSignatureException => "bad signature",
        SecurityTokenMalformedException => "malformed token",
        null => "invalid token",
        _ => "invalid token",
    };

    private static JwtCheck Fail(string reason) => new(null, NoScopes, reason);
}
