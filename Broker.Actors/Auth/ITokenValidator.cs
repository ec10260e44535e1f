namespace Broker.Actors.Auth;

/// <summary>The result of checking a bearer token. <see cref="Failure"/> is safe to log; it never contains the token.</summary>
public sealed record TokenValidation(AuthenticatedUser? User, string? Failure)
{
    public bool IsValid => User is not null;
    public static TokenValidation Valid(AuthenticatedUser user) => new(user, null);
    public static TokenValidation Invalid(string failure) => new(null, failure);
}

/// <summary>
/// Validates a JWT presented in-band (first-message auth and refresh). Implemented by the host
/// (Microsoft.IdentityModel) so the actors carry no ASP.NET dependency; tests substitute their own.
/// </summary>
public interface ITokenValidator
{
    Task<TokenValidation> ValidateAsync(string token, CancellationToken cancellationToken = default);
}
