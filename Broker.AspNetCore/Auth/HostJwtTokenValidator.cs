using System.Security.Claims;
using Broker.Actors.Auth;
using Broker.AspNetCore.Configuration;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Broker.AspNetCore.Auth;

/// <summary>
/// Validates tokens with the host app's own JwtBearer scheme: its <see cref="JwtBearerOptions.TokenValidationParameters"/>,
/// its <see cref="JwtBearerOptions.ConfigurationManager"/> (OIDC metadata and JWKS signing keys, when
/// <c>Authority</c> or <c>MetadataAddress</c> is set) and its <see cref="JwtBearerOptions.TokenHandlers"/>,
/// as <see cref="JwtBearerHandler"/> does. The broker's guards stay: at most
/// <c>Broker:Jwt:MaxTokenLength</c> characters, an <c>exp</c> (the connection lives no longer), a
/// non-empty <c>sub</c> (the user id) that is not reserved (<see cref="ReservedSubjects"/>), and a clock skew of at most <c>Broker:Jwt:ClockSkew</c>.
/// Failure reasons never contain the token.
/// </summary>
public sealed class HostJwtTokenValidator : ITokenValidator, IBearerTokenChecker
{
    private static readonly HashSet<string> NoScopes = new();
    private readonly IOptionsMonitor<JwtBearerOptions> _bearer;
    private readonly JwtOptions _guards;
    private readonly ILogger<HostJwtTokenValidator> _log;

    /// <param name="scheme">The JwtBearer scheme whose named options to use (usually <c>Bearer</c>).</param>
    public HostJwtTokenValidator(IOptionsMonitor<JwtBearerOptions> bearer, IOptions<BrokerOptions> options, string scheme, ILogger<HostJwtTokenValidator> log)
    {
        ArgumentException.ThrowIfNullOrEmpty(scheme);
        _bearer = bearer;
        _guards = options.Value.Jwt;
        _log = log;
        Scheme = scheme;
    }

    /// <summary>The host app's JwtBearer scheme in use.</summary>
    public string Scheme { get; }

    public async Task<TokenValidation> ValidateAsync(string token, CancellationToken cancellationToken = default)
    {
        var check = await CheckAsync(token, cancellationToken).ConfigureAwait(false);
        return check.User is { } user ? TokenValidation.Valid(user) : TokenValidation.Invalid(check.Failure!);
    }

    public Task<JwtCheck> CheckAsync(string? token) => CheckAsync(token, CancellationToken.None);

    /// <summary>Validates <paramref name="token"/> as the host's JwtBearer would, plus the broker's guards.</summary>
    public async Task<JwtCheck> CheckAsync(string? token, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(token)) return Fail("no token");
        if (token.Length > _guards.MaxTokenLength) return Fail("token too large");
        var bearer = _bearer.Get(Scheme);
        TokenValidationParameters parameters;
        try
        {
            parameters = await ParametersAsync(bearer, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The metadata endpoint is down or returned garbage: nobody can be validated right now.
            _log.LogWarning(e, "Could not load the signing keys of JwtBearer scheme {Scheme}", Scheme);
            return Fail("signing keys unavailable");
        }

        Exception? failure = null;
        IEnumerable<TokenHandler> handlers = bearer.TokenHandlers.Count > 0
            ? bearer.TokenHandlers
            : [new JsonWebTokenHandler { MapInboundClaims = bearer.MapInboundClaims }];
        foreach (var handler in handlers)
        {
            TokenValidationResult result;
            try
            {
                result = await handler.ValidateTokenAsync(token, parameters).ConfigureAwait(false);
            }
            catch (Exception e) when (e is ArgumentException or SecurityTokenException)
            {
                failure = e;
                continue;
            }
            if (!result.IsValid)
            {
                failure = result.Exception;
                continue;
            }
            return Accept(result);
        }
        return Fail(JwtTokenValidator.Describe(failure));
    }

    /// <summary>The scheme's parameters as <see cref="JwtBearerHandler"/> builds them per request, with the broker's guards on top.</summary>
    private async Task<TokenValidationParameters> ParametersAsync(JwtBearerOptions bearer, CancellationToken cancellationToken)
    {
        var parameters = bearer.TokenValidationParameters.Clone();
        if (bearer.ConfigurationManager is BaseConfigurationManager managed)
        {
            // The token handler fetches (and caches, with last-known-good fallback) the metadata itself.
            parameters.ConfigurationManager = managed;
        }
        else if (bearer.ConfigurationManager is { } manager)
        {
            var configuration = await manager.GetConfigurationAsync(cancellationToken).ConfigureAwait(false);
            parameters.ValidIssuers = (parameters.ValidIssuers ?? []).Append(configuration.Issuer);
            parameters.IssuerSigningKeys = (parameters.IssuerSigningKeys ?? []).Concat(configuration.SigningKeys);
        }
        // A connection lives as long as its token: a token without exp, or one accepted only thanks
        // to a long skew, would outlive its credential.
        parameters.RequireExpirationTime = true;
        parameters.ValidateLifetime = true;
        parameters.RequireSignedTokens = true; // alg: none never opens a socket (PROTOCOL §2)
        if (parameters.ClockSkew > _guards.ClockSkew) parameters.ClockSkew = _guards.ClockSkew;
        return parameters;
    }

    private static JwtCheck Accept(TokenValidationResult result)
    {
        var identity = result.ClaimsIdentity;
        var sub = (result.SecurityToken as JsonWebToken)?.Subject is { Length: > 0 } raw
            ? raw
            : identity.FindFirst("sub")?.Value;
        if (string.IsNullOrEmpty(sub)) return Fail("token has no sub");
        if (ReservedSubjects.IsReserved(sub)) return Fail(ReservedSubjects.Failure);
        var validTo = result.SecurityToken.ValidTo;
        if (validTo == DateTime.MinValue) return Fail("token has no exp");
        var scopes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var claim in identity.FindAll(c => c.Type is "scope" or "scp" or "http://schemas.microsoft.com/identity/claims/scope"))
            foreach (var scope in claim.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                scopes.Add(scope);
        return new JwtCheck(new AuthenticatedUser(sub, new DateTimeOffset(validTo, TimeSpan.Zero)), scopes, null);
    }

    private static JwtCheck Fail(string reason) => new(null, NoScopes, reason);
}
