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
public sealed class HostJwtTokenValidator : ITokenValidator
{
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

    /// <summary>Validates <paramref name="token"/> as the host's JwtBearer would, plus the broker's guards.</summary>
    public async Task<TokenValidation> ValidateAsync(string token, CancellationToken cancellationToken = default)
    {
        if (JwtChecks.BeforeParsing(token, _guards.MaxTokenLength) is { } refused) return refused;
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
            return TokenValidation.Invalid("signing keys unavailable", TokenFailure.Unavailable);
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
        return JwtChecks.Refuse(failure);
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

    private static TokenValidation Accept(TokenValidationResult result)
    {
        var sub = (result.SecurityToken as JsonWebToken)?.Subject is { Length: > 0 } raw
            ? raw
            : result.ClaimsIdentity.FindFirst("sub")?.Value;
        return JwtChecks.Accept(sub, result.SecurityToken.ValidTo, result.ClaimsIdentity);
    }
}
