namespace Broker.Actors.Auth;

/// <summary>
/// The user ids the broker gives out itself, which no token may claim: <c>server</c> (the
/// <c>from</c> of back-end publishes) and <c>anon-…</c> (anonymous connections, PROTOCOL §2).
/// A token for one of them would let a client pass for the back end or for another connection.
/// </summary>
public static class ReservedSubjects
{
    /// <summary>The sender of server-side publishes (<c>IBrokerPublisher</c>, <c>/api/publish</c> with the API key).</summary>
    public const string Server = "server";

    /// <summary>The prefix of anonymous connections' user ids: <c>anon-&lt;connection id&gt;</c>.</summary>
    public const string AnonymousPrefix = "anon-";

    /// <summary>What the client is told (an otherwise valid token: saying why reveals nothing).</summary>
    public const string Refusal = "the token's sub is reserved by the broker ('server', 'anon-…')";

    /// <summary>The message for a refused token: <see cref="Refusal"/> for a reserved <c>sub</c>, else <paramref name="otherwise"/>.</summary>
    public static string RefusalFor(TokenFailure failure, string otherwise) => failure == TokenFailure.ReservedSubject ? Refusal : otherwise;

    /// <summary>True when <paramref name="subject"/> is one the broker reserves (compared case-insensitively, to be safe).</summary>
    public static bool IsReserved(string subject) =>
        subject.Equals(Server, StringComparison.OrdinalIgnoreCase)
        || subject.StartsWith(AnonymousPrefix, StringComparison.OrdinalIgnoreCase);
}
