using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Microsoft.IdentityModel.Tokens;

namespace Broker.Tests.Integration;

/// <summary>
/// PROTOCOL §2: every kind of bad JWT is refused, both in-band (error unauthorized + 4401) and at
/// <c>POST /auth/ticket</c> (401).
/// </summary>
[Collection(SharedHostCollection.Name)]
public sealed class JwtRejectionTests(SharedHostFixture fixture)
{
    private static readonly RSA UntrustedRsa = RSA.Create(2048);

    private static readonly Dictionary<string, Func<string>> BadTokens = new()
    {
        ["alg none"] = () => TestTokens.Create("mallory", unsigned: true),
        ["signed with another HS256 key"] = () => TestTokens.Create("mallory", credentials: TestTokens.Hs256("some-other-secret-key-that-is-long-enough-0123")),
        ["wrong issuer"] = () => TestTokens.Create("mallory", issuer: "someone-else"),
        ["wrong audience"] = () => TestTokens.Create("mallory", audience: "another-service"),
        ["no exp"] = () => TestTokens.Create("mallory", withoutExpiry: true),
        ["nbf in the future"] = () => TestTokens.Create("mallory", notBefore: DateTime.UtcNow.AddMinutes(5), expires: DateTime.UtcNow.AddHours(1)),
        ["expired beyond the 30 s skew"] = () => TestTokens.Create("mallory", notBefore: DateTime.UtcNow.AddMinutes(-10), expires: DateTime.UtcNow.AddSeconds(-45)),
        ["no sub"] = () => TestTokens.Create(null),
        ["empty sub"] = () => TestTokens.Create(""),
        ["RS256 with an unknown kid"] = () => TestTokens.Create("mallory", credentials: TestTokens.Rs256(UntrustedRsa, "unknown-kid")),
        ["RS256 without a kid"] = () => TestTokens.Create("mallory", credentials: new SigningCredentials(new RsaSecurityKey(TestTokens.Rsa), SecurityAlgorithms.RsaSha256)),
        ["RS256 with a trusted kid but another key"] = () => TestTokens.Create("mallory", credentials: TestTokens.Rs256(UntrustedRsa, TestTokens.RsaKeyId)),
        ["RS384 with the trusted key"] = () => TestTokens.Create("mallory", credentials: new SigningCredentials(new RsaSecurityKey(TestTokens.Rsa) { KeyId = TestTokens.RsaKeyId }, SecurityAlgorithms.RsaSha384)),
        ["HS256 keyed with the RSA public key PEM (algorithm confusion)"] = () => TestTokens.Create("mallory", credentials: TestTokens.Hs256(TestTokens.RsaPublicPem, kid: TestTokens.RsaKeyId)),
        ["HS256 keyed with the RSA public key PEM, no kid"] = () => TestTokens.Create("mallory", credentials: TestTokens.Hs256(TestTokens.RsaPublicPem)),
        ["HS256 with the right secret but a kid"] = () => TestTokens.Create("mallory", credentials: TestTokens.Hs256(kid: TestTokens.RsaKeyId)),
        ["oversized (over 8192 characters)"] = () => TestTokens.Create("mallory", extraClaims: new Dictionary<string, object> { ["pad"] = new string('p', 9000) }),
        ["not a JWT"] = () => "definitely-not-a-jwt",
        ["a valid token with its signature stripped"] = () => string.Join('.', TestTokens.Valid("mallory").Split('.')[..2]) + ".",
    };

    public static TheoryData<string> Cases => new(BadTokens.Keys);

    private BrokerTestHost Host => fixture.Host;

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Bad_jwt_in_the_first_frame_gets_unauthorized_then_close_4401(string row)
    {
        var token = BadTokens[row]();
        await using var client = await TestClient.ConnectAsync(Host.WebSocketUri("chat"));

        await client.SendAsync("auth", "auth-1", new JsonObject { ["token"] = token });

        await FirstMessageAuthTests.AssertUnauthorizedAndClosedAsync(client, "auth-1");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Bad_jwt_as_bearer_at_the_ticket_endpoint_is_401(string row)
    {
        var token = BadTokens[row]();
        using var request = new HttpRequestMessage(HttpMethod.Post, "auth/ticket");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);

        using var response = await Host.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }
}
