using System.Security.Cryptography;
using System.Text;
using Broker.Actors.Auth;
using Broker.AspNetCore.Configuration;
using Broker.AspNetCore.Auth;
using Microsoft.Extensions.Options;

namespace Broker.Tests.Auth;

/// <summary>
/// <see cref="JwtTokenValidator"/> (PROTOCOL §2): pinned algorithms, issuer, audience, required
/// exp, at most 30 s skew, a sub. Each rejection is its own case; tokens are built by hand with
/// <see cref="TestTokens.ByHand"/> so the malicious ones are exactly what an attacker would send.
/// </summary>
public sealed class JwtTokenValidatorTests
{
    private const string Secret = "unit-test-signing-key-0123456789-abcdefghijklmnop";
    private const string Kid = "k1";

    // Generated once: RSA key generation is slow, and xunit runs this class's cases one at a time.
    private static readonly RSA Rsa = RSA.Create(2048);
    private static readonly RSA OtherRsa = RSA.Create(2048);
    private static readonly string PublicPem = Rsa.ExportSubjectPublicKeyInfoPem();

    private readonly DateTimeOffset _now = DateTimeOffset.UtcNow;

    private JwtTokenValidator Validator(bool hmac = true, bool rsa = true, int? maxTokenLength = null)
    {
        var jwt = new JwtOptions { SigningKey = hmac ? Secret : null };
        if (rsa) jwt.RsaPublicKeys[Kid] = PublicPem;
        if (maxTokenLength is { } max) jwt.MaxTokenLength = max;
        var options = new BrokerOptions { Jwt = jwt };
        return new JwtTokenValidator(Options.Create(options), new JwtKeys(options.Jwt, isDevelopment: false));
    }

    private Dictionary<string, object?> Claims(TimeSpan? lifetime = null) => TestTokens.ByHand.Claims(_now, lifetime: lifetime);

    /// <summary>The refusal's text; its kind must be <paramref name="kind"/> when one is given (the metric reason comes from it).</summary>
    private static async Task<string> RejectedAsync(JwtTokenValidator validator, string token, TokenFailure? kind = null)
    {
        var result = await validator.ValidateAsync(token).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(result.IsValid, "the token was accepted");
        Assert.Null(result.User);
        Assert.Equal(kind ?? result.Kind, result.Kind);
        Assert.NotEqual(TokenFailure.None, result.Kind);
        Assert.False(string.IsNullOrEmpty(result.Failure));
        Assert.DoesNotContain(token, result.Failure); // failure reasons are logged: never the token
        return result.Failure!;
    }

    private static async Task<Broker.Actors.Auth.AuthenticatedUser> AcceptedAsync(JwtTokenValidator validator, string token)
    {
        var result = await validator.ValidateAsync(token).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(result.IsValid, result.Failure);
        return result.User!;
    }

    // ---- happy paths ----

    [Fact]
    public async Task HS256_token_with_the_configured_secret_is_accepted_with_sub_and_exp()
    {
        var user = await AcceptedAsync(Validator(), TestTokens.ByHand.Hs256(Secret, Claims(TimeSpan.FromMinutes(5))));

        Assert.Equal("alice", user.UserId);
        Assert.Equal((_now + TimeSpan.FromMinutes(5)).ToUnixTimeSeconds(), user.ExpiresAt!.Value.ToUnixTimeSeconds());
    }

    [Fact]
    public async Task RS256_token_signed_with_the_private_key_of_a_configured_kid_is_accepted()
    {
        var user = await AcceptedAsync(Validator(hmac: false), TestTokens.ByHand.Rs256(Rsa, Claims(), Kid));

        Assert.Equal("alice", user.UserId);
    }

    [Fact]
    public async Task RS256_and_HS256_are_both_accepted_when_both_are_configured()
    {
        var validator = Validator();

        await AcceptedAsync(validator, TestTokens.ByHand.Rs256(Rsa, Claims(), Kid));
        await AcceptedAsync(validator, TestTokens.ByHand.Hs256(Secret, Claims()));
    }

    [Fact]
    public async Task Audience_array_containing_the_broker_is_accepted()
    {
        var claims = Claims();
        claims["aud"] = new[] { "other", "broker" };

        await AcceptedAsync(Validator(), TestTokens.ByHand.Hs256(Secret, claims));
    }

    [Fact]
    public async Task Token_expired_within_the_30_second_skew_is_still_accepted()
    {
        var claims = Claims();
        claims["exp"] = (_now - TimeSpan.FromSeconds(10)).ToUnixTimeSeconds();
        claims["nbf"] = claims["iat"] = (_now - TimeSpan.FromMinutes(5)).ToUnixTimeSeconds();

        await AcceptedAsync(Validator(), TestTokens.ByHand.Hs256(Secret, claims));
    }

    [Fact]
    public async Task Token_not_yet_valid_within_the_skew_is_accepted()
    {
        var claims = Claims();
        claims["nbf"] = (_now + TimeSpan.FromSeconds(10)).ToUnixTimeSeconds();

        await AcceptedAsync(Validator(), TestTokens.ByHand.Hs256(Secret, claims));
    }

    [Fact]
    public async Task Scopes_are_read_from_the_scope_claim()
    {
        var claims = Claims();
        claims["scope"] = "broker:publish other";

        var check = await Validator().ValidateAsync(TestTokens.ByHand.Hs256(Secret, claims)).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(new HashSet<string> { "broker:publish", "other" }, check.Scopes);
    }

    // ---- algorithm attacks ----

    [Fact]
    public async Task Alg_none_is_rejected() =>
        await RejectedAsync(Validator(), TestTokens.ByHand.Unsigned(Claims()));

    [Theory]
    [InlineData("None")]
    [InlineData("NONE")]
    [InlineData("")]
    public async Task Alg_none_in_any_spelling_is_rejected(string alg) =>
        await RejectedAsync(Validator(), TestTokens.ByHand.Unsigned(Claims(), alg));

    [Fact]
    public async Task Unsigned_token_with_a_real_alg_header_is_rejected() =>
        await RejectedAsync(Validator(), TestTokens.ByHand.Unsigned(Claims(), "HS256"));

    [Fact]
    public async Task RS256_public_key_used_as_an_HS256_secret_is_rejected()
    {
        // The algorithm-confusion attack: the public key is public, so an HS256 token "signed" with
        // its PEM bytes would pass a validator that lets the token choose the algorithm.
        var token = TestTokens.ByHand.Hmac(Encoding.UTF8.GetBytes(PublicPem), Claims(), kid: Kid);

        await RejectedAsync(Validator(hmac: false), token);
        await RejectedAsync(Validator(hmac: true), token);
    }

    [Fact]
    public async Task RS256_public_key_used_as_an_HS256_secret_without_kid_is_rejected()
    {
        var token = TestTokens.ByHand.Hmac(Encoding.UTF8.GetBytes(PublicPem), Claims());

        await RejectedAsync(Validator(hmac: false), token);
        await RejectedAsync(Validator(hmac: true), token);
    }

    [Fact]
    public async Task HS256_token_on_a_validator_with_only_RS256_keys_is_rejected() =>
        await RejectedAsync(Validator(hmac: false), TestTokens.ByHand.Hs256(Secret, Claims()));

    [Theory]
    [InlineData("HS384")]
    [InlineData("HS512")]
    public async Task Other_HMAC_algorithms_with_the_right_secret_are_rejected(string alg) =>
        await RejectedAsync(Validator(), TestTokens.ByHand.Hmac(Encoding.UTF8.GetBytes(Secret), Claims(), alg: alg));

    // ---- claims ----

    [Fact]
    public async Task Wrong_issuer_is_rejected()
    {
        var claims = Claims();
        claims["iss"] = "someone-else";

        Assert.Equal("wrong issuer", await RejectedAsync(Validator(), TestTokens.ByHand.Hs256(Secret, claims), TokenFailure.WrongIssuerOrAudience));
    }

    [Fact]
    public async Task Missing_issuer_is_rejected()
    {
        var claims = Claims();
        claims.Remove("iss");

        await RejectedAsync(Validator(), TestTokens.ByHand.Hs256(Secret, claims));
    }

    [Fact]
    public async Task Wrong_audience_is_rejected()
    {
        var claims = Claims();
        claims["aud"] = "another-api";

        Assert.Equal("wrong audience", await RejectedAsync(Validator(), TestTokens.ByHand.Hs256(Secret, claims), TokenFailure.WrongIssuerOrAudience));
    }

    [Fact]
    public async Task Missing_audience_is_rejected()
    {
        var claims = Claims();
        claims.Remove("aud");

        await RejectedAsync(Validator(), TestTokens.ByHand.Hs256(Secret, claims));
    }

    [Fact]
    public async Task Token_without_exp_is_rejected()
    {
        var claims = Claims();
        claims.Remove("exp");

        Assert.Equal("token has no exp", await RejectedAsync(Validator(), TestTokens.ByHand.Hs256(Secret, claims)));
    }

    [Fact]
    public async Task Token_not_valid_before_a_time_beyond_the_skew_is_rejected()
    {
        var claims = Claims();
        claims["nbf"] = (_now + TimeSpan.FromSeconds(120)).ToUnixTimeSeconds();

        Assert.Equal("token not yet valid", await RejectedAsync(Validator(), TestTokens.ByHand.Hs256(Secret, claims)));
    }

    [Fact]
    public async Task Token_expired_beyond_the_30_second_skew_is_rejected()
    {
        // 60 s ago: still inside the library's 5 min default skew, so this proves the 30 s one.
        var claims = Claims();
        claims["exp"] = (_now - TimeSpan.FromSeconds(60)).ToUnixTimeSeconds();
        claims["nbf"] = claims["iat"] = (_now - TimeSpan.FromMinutes(5)).ToUnixTimeSeconds();

        Assert.Equal("token expired", await RejectedAsync(Validator(), TestTokens.ByHand.Hs256(Secret, claims), TokenFailure.Expired));
    }

    [Fact]
    public async Task Token_without_sub_is_rejected()
    {
        var claims = Claims();
        claims.Remove("sub");

        Assert.Equal("token has no sub", await RejectedAsync(Validator(), TestTokens.ByHand.Hs256(Secret, claims)));
    }

    [Fact]
    public async Task Token_with_an_empty_sub_is_rejected()
    {
        var claims = Claims();
        claims["sub"] = "";

        await RejectedAsync(Validator(), TestTokens.ByHand.Hs256(Secret, claims));
    }

    [Theory]
    [InlineData("server")]
    [InlineData("Server")]
    [InlineData("anon-1f2e3d4c")]
    [InlineData("ANON-x")]
    public async Task Token_whose_sub_is_a_reserved_sender_is_rejected(string sub)
    {
        var claims = Claims();
        claims["sub"] = sub;

        Assert.Equal("reserved subject", await RejectedAsync(Validator(), TestTokens.ByHand.Hs256(Secret, claims), TokenFailure.ReservedSubject));
    }

    [Theory]
    [InlineData("servers")]
    [InlineData("anon")]
    [InlineData("anonymous")]
    [InlineData("my-anon-user")]
    public async Task Token_whose_sub_only_resembles_a_reserved_sender_is_accepted(string sub)
    {
        var claims = Claims();
        claims["sub"] = sub;

        Assert.Equal(sub, (await AcceptedAsync(Validator(), TestTokens.ByHand.Hs256(Secret, claims))).UserId);
    }

    // ---- keys ----

    [Fact]
    public async Task Unknown_kid_is_rejected() =>
        await RejectedAsync(Validator(), TestTokens.ByHand.Rs256(Rsa, Claims(), "k2"));

    [Fact]
    public async Task RS256_token_without_kid_is_rejected() =>
        await RejectedAsync(Validator(), TestTokens.ByHand.Rs256(Rsa, Claims(), kid: null));

    [Fact]
    public async Task HS256_token_signed_with_another_secret_is_rejected() =>
        await RejectedAsync(Validator(), TestTokens.ByHand.Hs256("another-secret-of-sufficient-length-0123456789", Claims()));

    [Fact]
    public async Task RS256_token_signed_with_another_private_key_under_a_known_kid_is_rejected()
    {
        await RejectedAsync(Validator(), TestTokens.ByHand.Rs256(OtherRsa, Claims(), Kid));
    }

    [Fact]
    public async Task Token_whose_claims_were_edited_after_signing_is_rejected()
    {
        var token = TestTokens.ByHand.Hs256(Secret, Claims());
        var forged = Claims();
        forged["sub"] = "admin";
        var parts = token.Split('.');
        var tampered = parts[0] + "." + TestTokens.ByHand.Base64Url(System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(forged)) + "." + parts[2];

        await RejectedAsync(Validator(), tampered);
    }

    [Fact]
    public async Task Validator_without_any_key_rejects_everything() =>
        await RejectedAsync(Validator(hmac: false, rsa: false), TestTokens.ByHand.Hs256(Secret, Claims()));

    // ---- shape ----

    [Fact]
    public async Task Oversized_token_is_rejected_unparsed()
    {
        var claims = Claims();
        claims["padding"] = new string('x', 9000);

        Assert.Equal("token too large", await RejectedAsync(Validator(), TestTokens.ByHand.Hs256(Secret, claims), TokenFailure.Malformed));
    }

    [Theory]
    [InlineData("")]
    [InlineData("not-a-jwt")]
    [InlineData("a.b.c")]
    [InlineData("a.b")]
    [InlineData("....")]
    public async Task Malformed_token_is_rejected(string token)
    {
        var result = await Validator().ValidateAsync(token).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.False(result.IsValid);
    }
}
