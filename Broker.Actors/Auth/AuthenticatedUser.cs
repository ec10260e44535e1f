namespace Broker.Actors.Auth;

/// <summary>Who a connection acts for, and until when its credential is good.</summary>
/// <param name="UserId">The JWT <c>sub</c>, or <c>anon-&lt;connection id&gt;</c> on anonymous routes.</param>
/// <param name="ExpiresAt">When the credential expires; null for anonymous connections.</param>
public sealed record AuthenticatedUser(string UserId, DateTimeOffset? ExpiresAt);
