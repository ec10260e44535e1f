using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Broker.Tests.Host;

/// <summary>
/// Builds JWTs by hand, byte by byte, so tests can produce exactly the malformed or malicious
/// tokens a library would refuse to create (alg none, algorithm confusion, missing claims).
/// </summary>
public static class TestJwt
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
