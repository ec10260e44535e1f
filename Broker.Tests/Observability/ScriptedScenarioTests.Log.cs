using Broker.Contracts.Protocol;
using Microsoft.Extensions.Logging;

namespace Broker.Tests.Observability;

public sealed partial class ScriptedScenarioTests
{
    private const string AccessCategory = "Broker.Access";

    [Fact]
    public async Task Access_log_captures_a_full_connection_life_cycle_without_secrets()
    {
        var suffix = "l" + Guid.NewGuid().ToString("N")[..6];
        var outcome = await RunScenarioAsync(suffix);

        IReadOnlyList<LogEntry> For(string connectionId) => host.Logs.Entries
            .Where(e => e.Category == AccessCategory && e.Values.GetValueOrDefault("ConnectionId") == connectionId)
            .ToList();

        await Eventually.TrueAsync(() => For(outcome.AliceConnection).Any(e => e.EventId.Name == "WsClosed")
                                    && For(outcome.BobConnection).Any(e => e.EventId.Name == "WsClosed")
                                    && For(outcome.SilentConnection).Any(e => e.EventId.Name == "WsClosed"),
            "the close events never reached the access log");

        var alice = For(outcome.AliceConnection);
        Assert.Equal(["WsConnected", "WsAuthenticated", "WsJoined", "WsClosed"], alice.Select(e => e.EventId.Name));
        var connected = alice[0];
        Assert.Equal(host.Route, connected.Values["Route"]);
        Assert.Equal("127.0.0.1", connected.Values["RemoteAddress"]);
        Assert.False(string.IsNullOrEmpty(connected.Values["Node"]));
        Assert.Equal("alice-" + suffix, alice[1].Values["UserId"]);
        Assert.Equal("token", alice[1].Values["Method"]);
        Assert.Equal(outcome.Room, alice[2].Values["Room"]);
        var closed = alice[3];
        Assert.Equal("alice-" + suffix, closed.Values["UserId"]);
        Assert.Equal(host.Route, closed.Values["Route"]);
        Assert.Equal(CloseCodes.Normal.ToString(), closed.Values["CloseCode"]);
        Assert.Equal("1000", closed.Values["ClientCloseStatus"]);
        Assert.Equal(LogLevel.Information, closed.Level);
        Assert.True(long.Parse(closed.Values["FramesIn"]!) >= 3, "auth, join and publish came in");
        Assert.True(long.Parse(closed.Values["BytesOut"]!) > 0, "frames went out");
        Assert.True(long.Parse(closed.Values["DurationMs"]!) >= 0);

        var bob = For(outcome.BobConnection);
        Assert.Contains(bob, e => e.EventId.Name == "WsLeft" && e.Values["Room"] == outcome.Room);

        // The cut-off is a warning that says who and why.
        var silentClosed = For(outcome.SilentConnection).Single(e => e.EventId.Name == "WsClosed");
        Assert.Equal(LogLevel.Warning, silentClosed.Level);
        Assert.Equal("silent-" + suffix, silentClosed.Values["UserId"]);
        Assert.Equal(CloseCodes.Policy.ToString(), silentClosed.Values["CloseCode"]);
        Assert.Equal(Close.HeartbeatTimeout.Reason, silentClosed.Values["CloseReason"]);

        // The bad token: an auth failure and a 4401 close for a connection that never had a user.
        var failure = host.Logs.Entries.Last(e => e.Category == AccessCategory && e.EventId.Name == "WsAuthFailed" && e.Values["Route"] == host.Route);
        Assert.Equal(LogLevel.Warning, failure.Level);
        var intruder = For(failure.Values["ConnectionId"]!);
        Assert.Contains(intruder, e => e.EventId.Name == "WsClosed" && e.Values["CloseCode"] == CloseCodes.Unauthorized.ToString());

        // No token, and no payload, anywhere in anything the host logged.
        foreach (var entry in host.Logs.Entries)
        {
            var text = entry.Message + " " + string.Join(" ", entry.Values.Values) + " " + entry.Exception;
            foreach (var token in outcome.Tokens.Append(outcome.BadToken))
                Assert.DoesNotContain(token, text);
            Assert.DoesNotContain(PayloadMarker, text);
        }
    }
}
