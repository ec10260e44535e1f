using Broker.Client.Internal;

namespace Broker.Tests.Client;

/// <summary>PROTOCOL §6: what the client does after each close code.</summary>
public sealed class ClosePolicyTests
{
    [Theory]
    [InlineData(1000, false, nameof(CloseAction.Stop))]              // normal: the server is done with us
    [InlineData(1001, false, nameof(CloseAction.Reconnect))]         // node going away
    [InlineData(1005, false, nameof(CloseAction.Reconnect))]         // close frame without a code
    [InlineData(1006, false, nameof(CloseAction.Reconnect))]         // dropped, or aborted by the watchdog
    [InlineData(1008, false, nameof(CloseAction.Reconnect))]         // heartbeat timeout / flooding
    [InlineData(1009, false, nameof(CloseAction.Reconnect))]         // too big
    [InlineData(1011, false, nameof(CloseAction.Reconnect))]         // internal error
    [InlineData(4000, false, nameof(CloseAction.Stop))]              // 4000–4499: not without new credentials
    [InlineData(4401, false, nameof(CloseAction.RetryWithNewToken))] // unauthorized: one more try with a fresh token
    [InlineData(4401, true, nameof(CloseAction.Stop))]               // … but only one
    [InlineData(4403, false, nameof(CloseAction.Stop))]
    [InlineData(4499, false, nameof(CloseAction.Stop))]
    [InlineData(4500, false, nameof(CloseAction.Reconnect))]         // 4500–4999: reconnect and recover
    [InlineData(4508, false, nameof(CloseAction.Reconnect))]         // slow consumer
    [InlineData(4508, true, nameof(CloseAction.Reconnect))]
    [InlineData(4999, false, nameof(CloseAction.Reconnect))]
    [InlineData(3000, false, nameof(CloseAction.Reconnect))]         // anything else
    public void Close_codes_map_to_actions(int code, bool retriedWithNewToken, string expected) =>
        Assert.Equal(expected, ClosePolicy.Decide(code, retriedWithNewToken).ToString());
}
