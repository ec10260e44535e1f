using System.Security.Cryptography;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Broker.Tests.Infrastructure;

/// <summary>
/// The tests' one token helper. Mints JWTs the way <c>Broker.AspNetCore.Auth.DevTokenIssuer</c> does
/// (JsonWebTokenHandler + SecurityTokenDescriptor), plus every kind of bad token the validator must
/// refuse; <see cref="ByHand"/> writes the ones a library would refuse to create.
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

    /// <summary>A valid HS256 token for <paramref name="sub"/>, good for <paramref name="lifetime"/> (default 1 h), with <paramref name="scope"/> (space-separated) if given.</summary>
    public static string Valid(string sub, TimeSpan? lifetime = null, string? scope = null) =>
        Create(sub, lifetime: lifetime, extraClaims: scope is null ? null : new Dictionary<string, object> { ["scope"] = scope });

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

    /// <summary>
    /// Builds JWTs by hand, byte by byte, so tests can produce exactly the malformed or malicious
    /// tokens a library would refuse to create (alg none, algorithm confusion, missing claims).
    /// </summary>
    public static class ByHand
    {
        /// <summary>The usual claims: sub, iss, aud, iat, nbf and exp relative to <paramref name="now"/>.</summary>
        public static Dictionary<string, object?> Claims(DateTimeOffset now, string sub = "alice", string iss = "broker", string aud = "broker", TimeSpan? lifetime = null) => new()
        {
            ["sub"] = sub,
            ["iss"] = iss,
            ["aud"] = aud,
            ["iat"] = now.ToUnixTimeSeconds(),
            ["nbf"] = now.ToUnixTimeSeconds(),
            ["exp"] = (now + (lifetime ?? TimeSpan.FromMinutes(5))).ToUnixTimeSeconds(),
        };

        /// <summary>HS256 (or another HMAC alg named in <paramref name="alg"/>) over <paramref name="secret"/>.</summary>
        public static string Hmac(byte[] secret, IDictionary<string, object?> claims, string? kid = null, string alg = "HS256")
        {
            Func<byte[], byte[]> sign = alg switch
            {
                "HS256" => data => HMACSHA256.HashData(secret, data),
                "HS384" => data => HMACSHA384.HashData(secret, data),
                "HS512" => data => HMACSHA512.HashData(secret, data),
                _ => throw new ArgumentOutOfRangeException(nameof(alg)),
            };
            return Create(Header(alg, kid), claims, sign);
        }

        /// <summary>HS256 with a UTF-8 secret.</summary>
        public static string Hs256(string secret, IDictionary<string, object?> claims, string? kid = null) =>
            Hmac(Encoding.UTF8.GetBytes(secret), claims, kid);

        /// <summary>RS256 signed with <paramref name="privateKey"/>.</summary>
        public static string Rs256(RSA privateKey, IDictionary<string, object?> claims, string? kid) =>
            Create(Header("RS256", kid), claims, data => privateKey.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));

        /// <summary>An unsigned token: <c>alg</c> as given (e.g. <c>none</c>), empty signature.</summary>
        public static string Unsigned(IDictionary<string, object?> claims, string alg = "none") =>
            Create(Header(alg, null), claims, _ => []);

        public static string Create(IDictionary<string, object?> header, IDictionary<string, object?> claims, Func<byte[], byte[]> sign)
        {
            var signingInput = Base64Url(JsonSerializer.SerializeToUtf8Bytes(header)) + "." + Base64Url(JsonSerializer.SerializeToUtf8Bytes(claims));
            return signingInput + "." + Base64Url(sign(Encoding.ASCII.GetBytes(signingInput)));
        }

        private static Dictionary<string, object?> Header(string alg, string? kid)
        {
            var header = new Dictionary<string, object?> { ["alg"] = alg, ["typ"] = "JWT" };
            if (kid is not null) header["kid"] = kid;
            return header;
        }

        public static string Base64Url(byte[] bytes) =>
            Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }
}
