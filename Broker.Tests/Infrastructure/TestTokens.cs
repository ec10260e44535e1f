using System.Security.Cryptography;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Broker.Tests.Infrastructure;

/// <summary>
/// Mints JWTs the way <c>Broker.AspNetCore.Auth.DevTokenIssuer</c> does (JsonWebTokenHandler +
/// SecurityTokenDescriptor), plus every kind of bad token the validator must refuse.
/// </summary>
public static class TestTokens
{
    /// <summary>The HS256 secret every test host is configured with.</summary>
    public const string SigningKey = "integration-tests-hs256-signing-key-0123456789";
    public const string Issuer = "broker";
    public const string Audience = "broker";
    /// <summary>The <c>kid</c> under which <see cref="RsaPublicPem"/> is configured.</summary>
    public const string RsaKeyId = "test-rsa";

    /// <summary>The RSA key pair whose public half the hosts trust for RS256.</summary>
    public static readonly RSA Rsa = RSA.Create(2048);

    /// <summary>The PEM of <see cref="Rsa"/>'s public key, as configured at <c>Broker:Jwt:RsaPublicKeys:test-rsa</c>.</summary>
    public static readonly string RsaPublicPem = Rsa.ExportSubjectPublicKeyInfoPem();

    public static SigningCredentials Hs256(string key = SigningKey, string? kid = null) =>
        new(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(key)) { KeyId = kid }, SecurityAlgorithms.HmacSha256);

    public static SigningCredentials Rs256(RSA rsa, string kid) =>
        new(new RsaSecurityKey(rsa) { KeyId = kid }, SecurityAlgorithms.RsaSha256);

    /// <summary>A valid HS256 token for <paramref name="sub"/>, good for <paramref name="lifetime"/> (default 1 h).</summary>
    public static string Valid(string sub, TimeSpan? lifetime = null) => Create(sub, lifetime: lifetime);

    /// <summary>
    /// A token with every field under the caller's control. Defaults make a valid HS256 token for
    /// an hour; <paramref name="credentials"/> null with <paramref name="unsigned"/> makes <c>alg: none</c>.
    /// </summary>
    public static string Create(
        string? sub,
        TimeSpan? lifetime = null,
        SigningCredentials? credentials = null,
        bool unsigned = false,
        string issuer = Issuer,
        string audience = Audience,
        DateTime? notBefore = null,
        DateTime? expires = null,
        bool withoutExpiry = false,
        IDictionary<string, object>? extraClaims = null)
    {
        var now = DateTime.UtcNow;
        var claims = new Dictionary<string, object>();
        if (sub is not null) claims["sub"] = sub;
        if (extraClaims is not null)
            foreach (var (k, v) in extraClaims) claims[k] = v;
        var nbf = notBefore ?? now;
        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            Claims = claims,
            IssuedAt = withoutExpiry ? null : (nbf < now ? nbf : now),
            NotBefore = withoutExpiry ? null : nbf,
            Expires = withoutExpiry ? null : expires ?? now + (lifetime ?? TimeSpan.FromHours(1)),
            SigningCredentials = unsigned ? null : credentials ?? Hs256(),
        };
        var handler = new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = !withoutExpiry };
        return handler.CreateToken(descriptor);
    }

    /// <summary>The <c>exp</c> of a token, as unix milliseconds (what <c>welcome.expiresAt</c> carries).</summary>
    public static long ExpiresAtMs(string token) =>
        new DateTimeOffset(new JsonWebToken(token).ValidTo, TimeSpan.Zero).ToUnixTimeMilliseconds();
}
