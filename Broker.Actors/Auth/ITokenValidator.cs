namespace Broker.Actors.Auth;

/// <summary>Why a token was refused; the metric reason comes from it (<c>AuthFailureReasons.For</c>), the text goes to the log.</summary>
public enum TokenFailure
{
    /// <summary>Not refused: the token is valid.</summary>
    None,
    /// <summary>No token, one longer than <c>Broker:Jwt:MaxTokenLength</c>, or one that does not parse.</summary>
    Malformed,
    /// <summary>Past its <c>exp</c> (beyond the allowed skew).</summary>
    Expired,
    /// <summary>Before its <c>nbf</c> (beyond the allowed skew).</summary>
    NotYetValid,
    /// <summary>Unsigned, signed with an algorithm or key the broker does not accept, or a signature that does not verify.</summary>
    BadSignature,
    /// <summary>An <c>iss</c> or <c>aud</c> other than the expected one.</summary>
    WrongIssuerOrAudience,
    /// <summary>No <c>sub</c> or no <c>exp</c>.</summary>
    MissingClaim,
    /// <summary>An otherwise valid token whose <c>sub</c> the broker gives out itself (<see cref="ReservedSubjects"/>).</summary>
    ReservedSubject,
    /// <summary>The token could not be checked now: no signing key, keys that cannot be loaded, a validator that failed.</summary>
    Unavailable,
    /// <summary>Refused for any other reason.</summary>
    Invalid,
}

/// <summary>
/// The result of checking a bearer token: the user and its scopes, or the <see cref="Kind"/> of
/// failure and a <see cref="Failure"/> text that is safe to log (it never contains the token).
/// </summary>
public sealed record TokenValidation(AuthenticatedUser? User, IReadOnlySet<string> Scopes, TokenFailure Kind, string? Failure)
{
    private static readonly IReadOnlySet<string> NoScopes = new HashSet<string>();

    public bool IsValid => User is not null;

    /// <summary>A valid token for <paramref name="user"/>, granting <paramref name="scopes"/> (none when null).</summary>
    public static TokenValidation Valid(AuthenticatedUser user, IReadOnlySet<string>? scopes = null) => new(user, scopes ?? NoScopes, TokenFailure.None, null);

    /// <summary>A refused token: why (<paramref name="failure"/>, for the log) and its <paramref name="kind"/> (for the metric).</summary>
    public static TokenValidation Invalid(string failure, TokenFailure kind = TokenFailure.Invalid) => new(null, NoScopes, kind, failure);
}

/// <summary>
/// The one token check of the broker: first-message auth and refresh on a socket, <c>POST /auth/ticket</c>
/// and the <c>/api/*</c> bearer path. Implemented by the host (Microsoft.IdentityModel) so the actors
/// carry no ASP.NET dependency; an app replaces it by registering its own after <c>AddBroker</c>.
/// </summary>
public interface ITokenValidator
{
    Task<TokenValidation> ValidateAsync(string token, CancellationToken cancellationToken = default);
}
