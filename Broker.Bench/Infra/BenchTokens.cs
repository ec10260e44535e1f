using System.Security.Cryptography;
using System.Text;

namespace Broker.Bench.Infra;

/// <summary>
/// HS256 JWTs for the broker and the SignalR baseline, signed with a key every server of the run
/// is configured with. Written by hand (three base64url parts and an HMAC): minting 50k of them
/// must not dominate the idle scenario's set-up.
/// </summary>
public static class BenchTokens
{
    /// <summary>The HS256 secret of every server the tool starts.</summary>
    public const string SigningKey = "broker-bench-hs256-signing-key-0123456789abcdef";
    public const string Issuer = "broker";
    public const string Audience = "broker";

    private static readonly string Header = Base64Url("""{"alg":"HS256","typ":"JWT"}"""u8);

    /// <summary>A token for <paramref name="sub"/>, valid for <paramref name="lifetime"/> (default 2 h: longer than any run).</summary>
    public static string Create(string sub, TimeSpan? lifetime = null)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var exp = now + (long)(lifetime ?? TimeSpan.FromHours(2)).TotalSeconds;
        var payload = Base64Url(Encoding.UTF8.GetBytes(
            $$"""{"sub":"{{sub}}","iss":"{{Issuer}}","aud":"{{Audience}}","iat":{{now}},"nbf":{{now}},"exp":{{exp}}}"""));
        var signingInput = Header + "." + payload;
        var signature = HMACSHA256.HashData(Encoding.UTF8.GetBytes(SigningKey), Encoding.ASCII.GetBytes(signingInput));
        return signingInput + "." + Base64Url(signature);
    }

    private static string Base64Url(ReadOnlySpan<byte> bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
