using System.Security.Claims;
using Broker.Actors.Auth;
using Microsoft.IdentityModel.Tokens;

namespace Broker.AspNetCore.Auth;

/// <summary>
/// What both validators (<see cref="JwtTokenValidator"/>, <see cref="HostJwtTokenValidator"/>) check
/// the same way: the size guard before parsing, the claims after it (<c>sub</c>, <c>exp</c>, scopes),
/// and a loggable text and kind for each failure (never the token).
/// </summary>
internal static class JwtChecks
{
    /// <summary>The refusal of a token too short or too long to parse, or null to go on.</summary>
    public static TokenValidation? BeforeParsing(string? token, int maxLength) =>
        string.IsNullOrEmpty(token) ? TokenValidation.Invalid("no token", TokenFailure.Malformed)
        : token.Length > maxLength ? TokenValidation.Invalid("token too large", TokenFailure.Malformed)
        : null;

    /// <summary>A token that passed its handler: valid for a non-reserved <paramref name="sub"/> with an <c>exp</c>, with its scopes.</summary>
    public static TokenValidation Accept(string? sub, DateTime validTo, ClaimsIdentity identity)
    {
        if (string.IsNullOrEmpty(sub)) return TokenValidation.Invalid("token has no sub", TokenFailure.MissingClaim);
        if (ReservedSubjects.IsReserved(sub)) return TokenValidation.Invalid("reserved subject", TokenFailure.ReservedSubject);
        if (validTo == DateTime.MinValue) return TokenValidation.Invalid("token has no exp", TokenFailure.MissingClaim);
        return TokenValidation.Valid(new AuthenticatedUser(sub, new DateTimeOffset(validTo, TimeSpan.Zero)), Scopes(identity));
    }

    /// <summary>
    /// The space-separated scopes of <c>scope</c> and <c>scp</c>, under their raw names or the one
    /// <c>MapInboundClaims</c> gives them.
    /// </summary>
    private static IReadOnlySet<string> Scopes(ClaimsIdentity identity)
    {
        var scopes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var claim in identity.FindAll(c => c.Type is "scope" or "scp" or "http://schemas.microsoft.com/identity/claims/scope"))
            foreach (var scope in claim.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                scopes.Add(scope);
        return scopes;
    }

    /// <summary>The refusal for a token handler's failure.</summary>
    public static TokenValidation Refuse(Exception? e) => e switch
    {
        SecurityTokenExpiredException => TokenValidation.Invalid("token expired", TokenFailure.Expired),
        SecurityTokenNotYetValidException => TokenValidation.Invalid("token not yet valid", TokenFailure.NotYetValid),
        SecurityTokenNoExpirationException => TokenValidation.Invalid("token has no exp", TokenFailure.MissingClaim),
        SecurityTokenInvalidIssuerException => TokenValidation.Invalid("wrong issuer", TokenFailure.WrongIssuerOrAudience),
        SecurityTokenInvalidAudienceException => TokenValidation.Invalid("wrong audience", TokenFailure.WrongIssuerOrAudience),
        SecurityTokenInvalidAlgorithmException => TokenValidation.Invalid("algorithm not allowed", TokenFailure.BadSignature),
        SecurityTokenSignatureKeyNotFoundException => TokenValidation.Invalid("unknown signing key", TokenFailure.BadSignature),
        SecurityTokenInvalidSignatureException => TokenValidation.Invalid("bad signature", TokenFailure.BadSignature),
        SecurityTokenMalformedException => TokenValidation.Invalid("malformed token", TokenFailure.Malformed),
        _ => TokenValidation.Invalid("invalid token"),
    };
}
