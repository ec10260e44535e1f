using System.Security.Cryptography;
using System.Text;
using Broker.Actors.Auth;
using Broker.AspNetCore.Configuration;
using Broker.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace Broker.AspNetCore.Api;

/// <summary>
/// Who may call the back-end API (PROTOCOL §1): a JWT with scope <c>broker:publish</c>, or the
/// configured <c>X-Api-Key</c>; and the management console (PROTOCOL §9.5): scope <c>broker:admin</c>
/// or the same key. No or bad credentials → 401; a valid JWT without the scope → 403.
/// </summary>
public sealed class ApiAuthorization(ITokenValidator validator, IOptions<BrokerOptions> options)
{
    public const string PublishScope = "broker:publish";
    public const string AdminScope = "broker:admin";
    /// <summary>The <c>from</c> of messages published with the API key.</summary>
    public const string ServerSender = ReservedSubjects.Server;

    /// <summary>The caller's identity, or the HTTP status that refuses it.</summary>
    public async Task<(int? Refusal, string Caller)> AuthorizeAsync(HttpContext context, string scope = PublishScope)
    {
        if (context.Request.Headers.TryGetValue("X-Api-Key", out var presented))
        {
            var expected = options.Value.ApiKey;
            var ok = !string.IsNullOrEmpty(expected) && CryptographicOperations.FixedTimeEquals(
                Encoding.UTF8.GetBytes(presented.ToString()), Encoding.UTF8.GetBytes(expected));
            return ok ? (null, ServerSender) : (StatusCodes.Status401Unauthorized, "");
        }
        var check = await validator.ValidateAsync(BrokerHttp.BearerToken(context));
        if (check.User is null) return (StatusCodes.Status401Unauthorized, "");
        if (!check.Scopes.Contains(scope)) return (StatusCodes.Status403Forbidden, "");
        return (null, check.User.UserId);
    }
}
