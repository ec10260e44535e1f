using Broker.Client.Protocol;

namespace Broker.Client.Internal;

/// <summary>What the client does after a connection ends.</summary>
internal enum CloseAction
{
    /// <summary>Reconnect with backoff and recover the rooms.</summary>
    Reconnect,
    /// <summary>Fetch a new token and try once more, at once.</summary>
    RetryWithNewToken,
    /// <summary>Stop: state Closed, no reconnection.</summary>
    Stop,
}

/// <summary>PROTOCOL §6 as a decision table over close codes.</summary>
internal static class ClosePolicy
{
    /// <summary>The code reported when the connection dropped without a close frame.</summary>
    public const int Abnormal = 1006;

    /// <param name="code">The peer's close code, or <see cref="Abnormal"/>.</param>
    /// <param name="retriedWithNewToken">Whether the previous attempt was already the one retry after a 4401 (no welcome since).</param>
    public static CloseAction Decide(int code, bool retriedWithNewToken) => code switch
    {
        CloseCodes.Normal => CloseAction.Stop,
        CloseCodes.Unauthorized => retriedWithNewToken ? CloseAction.Stop : CloseAction.RetryWithNewToken,
        // 4000–4499: do not reconnect without new credentials (4403 and the rest: the app decides).
        >= 4000 and <= 4499 => CloseAction.Stop,
        // 1001, 1011, 4500–4999, 1006 (dropped), 1008 (heartbeat, rate), 1009 and anything else.
        _ => CloseAction.Reconnect,
    };
}
