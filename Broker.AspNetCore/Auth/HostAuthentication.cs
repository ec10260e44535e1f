using Broker.AspNetCore.Configuration;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Options;

namespace Broker.AspNetCore.Auth;

/// <summary>Lets the broker validate tokens with the host app's own JwtBearer configuration.</summary>
public static class HostAuthentication
{
    /// <summary>
    /// Validate WebSocket, ticket and API tokens with the host app's JwtBearer scheme
    /// (<c>AddAuthentication().AddJwtBearer(…)</c>): same keys, issuer, audience and OIDC metadata.
    /// Same as setting <c>Broker:Auth:JwtBearerScheme</c>.
    /// </summary>
    public static BrokerOptions UseHostAuthentication(this BrokerOptions options, string scheme = JwtBearerDefaults.AuthenticationScheme)
    {
        ArgumentException.ThrowIfNullOrEmpty(scheme);
        options.Auth.JwtBearerScheme = scheme;
        return options;
    }

    /// <summary>The broker's own validator, or the host's scheme when configured (checked to exist, so a typo stops the start-up).</summary>
    internal static IBearerTokenChecker CreateChecker(IServiceProvider services)
    {
        var options = services.GetRequiredService<IOptions<BrokerOptions>>();
        if (options.Value.Auth.JwtBearerScheme is not { Length: > 0 } scheme) return services.GetRequiredService<JwtTokenValidator>();
        var schemes = services.GetService<IAuthenticationSchemeProvider>();
        // The default provider answers synchronously; this runs once, when the node starts.
        var found = schemes?.GetSchemeAsync(scheme).GetAwaiter().GetResult();
        if (found is null || !typeof(JwtBearerHandler).IsAssignableFrom(found.HandlerType))
            throw new InvalidOperationException(
                $"Broker:Auth:JwtBearerScheme is '{scheme}', but the app has no JwtBearer scheme of that name (AddAuthentication().AddJwtBearer(\"{scheme}\", …)).");
        return new HostJwtTokenValidator(
            services.GetRequiredService<IOptionsMonitor<JwtBearerOptions>>(), options, scheme,
            services.GetRequiredService<ILogger<HostJwtTokenValidator>>());
    }
}
