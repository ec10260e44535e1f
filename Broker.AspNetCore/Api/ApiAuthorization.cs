using System.Security.Cryptography;
using System.Text;
using Broker.AspNetCore.Configuration;
using Broker.AspNetCore.Auth;
using Broker.AspNetCore.Hosting;
using Microsoft.Extensions.Options;

namespace Broker.AspNetCore.Api;

/// <summary>
/// Who may call the back-end API (PROTOCOL §1): a JWT with scope <c>broker:publish</c>, or the
/// configured <c>X-Api-Key</c>. No or bad credentials → 401; a valid JWT without the scope → 403.
/// </summary>
public sealed class ApiAuthorization(IBearerTokenChecker validator, IOptions<BrokerOptions> options)
{
    public const string PublishScope = "broker:publish";
    /// <summary>The <c>from</c> of messages published with the API key.</summary>
    public const string ServerSender = Broker.Actors.Auth.ReservedSubjects.Server;

    /// <summary>The caller's identity, or the HTTP status that refuses it.</summary>
    public async Task<(int? Refusal, string Caller)> AuthorizeAsync(HttpContext context)
    {
        if (context.Request.Headers.TryGetValue("X-Api-Key", out var presented))
        {
            var expected = options.Value.ApiKey;
            var ok = !string.IsNullOrEmpty(expected) && CryptographicOperations.FixedTimeEquals(
                Encoding.UTF8.GetBytes(presented.ToString()), Encoding.UTF8.GetBytes(expected));
            return ok ? (null, ServerSender) : (StatusCodes.Status401Unauthorized, "");
        }
        var check = await validator.CheckAsync(BrokerEndpointRouteBuilderExtensions.BearerToken(context));
        if (check.User is null) return (StatusCodes.Status401Unauthorized, "");
        if (!check.Scopes.Contains(PublishScope)) return (StatusCodes.Status403Forbidden, "");
        return (null, check.User.UserId);
    }
}
