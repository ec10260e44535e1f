using System.Security.Cryptography;
using Broker.AspNetCore.Configuration;
using Broker.AspNetCore.Auth;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace Broker.Tests.Auth;

/// <summary>
/// <see cref="HostJwtTokenValidator"/> with a JwtBearer scheme that gets its signing keys from OIDC
/// discovery (metadata + JWKS), as an app using an identity provider does. The documents come from
/// a fake retriever, so no network is involved.
/// </summary>
public sealed class HostJwtTokenValidatorTests : IDisposable
{
    private const string Issuer = "https://idp.example";
    private const string KeyId = "idp-key-1";
    private static readonly RSA IdpKey = RSA.Create(2048);

    private readonly FakeIdentityProvider _idp = new();
    private readonly ServiceProvider _services;
    private readonly HostJwtTokenValidator _validator;

    public HostJwtTokenValidatorTests()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddAuthentication().AddJwtBearer(bearer =>
        {
            bearer.MapInboundClaims = false;
            bearer.TokenValidationParameters.ValidAudience = "orders";
            // What Authority = Issuer would set up, with the documents served by the fake.
            bearer.ConfigurationManager = new ConfigurationManager<OpenIdConnectConfiguration>(
                Issuer + "/.well-known/openid-configuration", new OpenIdConnectConfigurationRetriever(), _idp);
        });
        _services = services.BuildServiceProvider();
        _validator = new HostJwtTokenValidator(_services.GetRequiredService<IOptionsMonitor<JwtBearerOptions>>(),
            Options.Create(new BrokerOptions()), JwtBearerDefaults.AuthenticationScheme, NullLogger<HostJwtTokenValidator>.Instance);
    }

    public void Dispose() => _services.Dispose();

    private static string Token(string? sub = "alice", string issuer = Issuer, RSA? key = null, DateTime? expires = null, DateTime? notBefore = null) =>
        TestTokens.Create(sub, credentials: TestTokens.Rs256(key ?? IdpKey, KeyId), issuer: issuer, audience: "orders", expires: expires, notBefore: notBefore);

    [Fact]
    public async Task A_token_signed_with_a_key_from_the_providers_JWKS_is_accepted_for_its_sub_until_its_exp()
    {
        var token = Token();
        var result = await _validator.ValidateAsync(token).OrTimeout();
        Assert.Equal("alice", result.User?.UserId);
        Assert.Equal(TestTokens.ExpiresAtMs(token), result.User!.ExpiresAt!.Value.ToUnixTimeMilliseconds());
        Assert.Contains(_idp.Requested, address => address.EndsWith("/jwks", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("another key under the same kid")]
    [InlineData("another issuer")]
    [InlineData("no sub")]
    [InlineData("expired two minutes ago (inside the app's 5 min skew, outside the broker's 30 s)")]
    public async Task A_token_the_broker_must_not_trust_is_refused(string what)
    {
        var token = what switch
        {
            "another key under the same kid" => Token(key: RSA.Create(2048)),
            "another issuer" => Token(issuer: "https://evil.example"),
            "no sub" => Token(sub: null),
            _ => Token(notBefore: DateTime.UtcNow.AddMinutes(-10), expires: DateTime.UtcNow.AddMinutes(-2)),
        };
        var result = await _validator.ValidateAsync(token).OrTimeout();
        Assert.False(result.IsValid, what);
        Assert.DoesNotContain(token, result.Failure!); // failure reasons are logged: never the token
    }

    [Theory]
    [InlineData("server")]
    [InlineData("anon-1f2e3d4c")]
    [InlineData("Anon-X")]
    public async Task A_token_of_the_apps_provider_whose_sub_is_a_reserved_sender_is_refused(string sub)
    {
        var result = await _validator.ValidateAsync(Token(sub: sub)).OrTimeout();
        Assert.False(result.IsValid, sub);
        Assert.Equal(Broker.Actors.Auth.TokenFailure.ReservedSubject, result.Kind);
    }

    [Fact]
    public async Task A_token_longer_than_the_brokers_limit_is_refused_before_any_parsing()
    {
        var result = await _validator.ValidateAsync(new string('a', new JwtOptions().MaxTokenLength + 1)).OrTimeout();
        Assert.Equal("token too large", result.Failure);
        Assert.Equal(Broker.Actors.Auth.TokenFailure.Malformed, result.Kind);
        Assert.Empty(_idp.Requested);
    }

    [Fact]
    public async Task A_configuration_manager_of_the_apps_own_making_supplies_issuer_and_keys_too()
    {
        var configuration = new OpenIdConnectConfiguration { Issuer = Issuer };
        configuration.SigningKeys.Add(new RsaSecurityKey(IdpKey) { KeyId = KeyId });
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddAuthentication().AddJwtBearer(bearer =>
        {
            bearer.TokenValidationParameters.ValidAudience = "orders";
            bearer.ConfigurationManager = new FixedConfiguration(configuration);
        });
        using var provider = services.BuildServiceProvider();
        var validator = new HostJwtTokenValidator(provider.GetRequiredService<IOptionsMonitor<JwtBearerOptions>>(),
            Options.Create(new BrokerOptions()), JwtBearerDefaults.AuthenticationScheme, NullLogger<HostJwtTokenValidator>.Instance);

        Assert.Equal("alice", (await validator.ValidateAsync(Token()).OrTimeout()).User?.UserId);
        Assert.False((await validator.ValidateAsync(Token(issuer: "https://evil.example")).OrTimeout()).IsValid);
        Assert.False((await validator.ValidateAsync(Token(key: RSA.Create(2048))).OrTimeout()).IsValid);
    }

    /// <summary>An <see cref="IConfigurationManager{T}"/> that is not a <see cref="BaseConfigurationManager"/>: the validator merges its issuer and keys itself.</summary>
    private sealed class FixedConfiguration(OpenIdConnectConfiguration configuration) : IConfigurationManager<OpenIdConnectConfiguration>
    {
        public Task<OpenIdConnectConfiguration> GetConfigurationAsync(CancellationToken cancel) => Task.FromResult(configuration);
        public void RequestRefresh() { }
    }

    /// <summary>Serves the discovery document and the JWKS an identity provider would publish.</summary>
    private sealed class FakeIdentityProvider : IDocumentRetriever
    {
        public List<string> Requested { get; } = new();

        public Task<string> GetDocumentAsync(string address, CancellationToken cancel)
        {
            lock (Requested) Requested.Add(address);
            if (address.EndsWith("/openid-configuration", StringComparison.Ordinal))
                return Task.FromResult(JsonSerializer.Serialize(new Dictionary<string, string> { ["issuer"] = Issuer, ["jwks_uri"] = Issuer + "/jwks" }));
            var p = IdpKey.ExportParameters(includePrivateParameters: false);
            var jwk = new Dictionary<string, string>
            {
                ["kty"] = "RSA", ["use"] = "sig", ["alg"] = "RS256", ["kid"] = KeyId,
                ["n"] = Base64UrlEncoder.Encode(p.Modulus), ["e"] = Base64UrlEncoder.Encode(p.Exponent),
            };
            return Task.FromResult(JsonSerializer.Serialize(new { keys = new[] { jwk } }));
        }
    }
}
