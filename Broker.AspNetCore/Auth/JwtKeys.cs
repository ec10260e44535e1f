using System.Security.Cryptography;
using System.Text;
using Broker.AspNetCore.Configuration;
using Microsoft.IdentityModel.Tokens;

namespace Broker.AspNetCore.Auth;

/// <summary>
/// The key material tokens are checked against: an HS256 secret and/or RS256 public keys by
/// <c>kid</c>. Built once at start-up from <see cref="JwtOptions"/>.
/// </summary>
public sealed class JwtKeys
{
    /// <summary>
    /// DEVELOPMENT ONLY. Used when the environment is Development and no key is configured, so
    /// <c>dotnet run</c> works out of the box. Never used in any other environment.
    /// </summary>
    public const string DevelopmentSigningKey = "broker-DEVELOPMENT-ONLY-signing-key-do-not-use-in-production";

    public SymmetricSecurityKey? Hmac { get; }
    public IReadOnlyDictionary<string, RsaSecurityKey> Rsa { get; }

    public JwtKeys(JwtOptions options, bool isDevelopment)
    {
        var secret = options.SigningKey;
        if (string.IsNullOrEmpty(secret) && isDevelopment) secret = DevelopmentSigningKey;
        if (!string.IsNullOrEmpty(secret)) Hmac = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(secret));

        var rsa = new Dictionary<string, RsaSecurityKey>(StringComparer.Ordinal);
        foreach (var (kid, pem) in options.RsaPublicKeys)
        {
            var key = RSA.Create();
            key.ImportFromPem(pem);
            rsa[kid] = new RsaSecurityKey(key) { KeyId = kid };
        }
        Rsa = rsa;
    }

    /// <summary>Whether any key is configured at all.</summary>
    public bool Any => Hmac is not null || Rsa.Count > 0;
}
