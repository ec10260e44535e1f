namespace Broker.AspNetCore.Auth;

/// <summary>
/// Checks a bearer token presented over HTTP (<c>/auth/ticket</c>, <c>/api/*</c>) and returns its
/// user and scopes. Implemented by the broker's own <see cref="JwtTokenValidator"/> or, with
/// <c>Broker:Auth:JwtBearerScheme</c>, by <see cref="HostJwtTokenValidator"/> (the host app's JwtBearer).
/// </summary>
public interface IBearerTokenChecker
{
    /// <summary>The token's user and scopes, or why it was refused (never containing the token).</summary>
    Task<JwtCheck> CheckAsync(string? token);
}
