using Broker.Contracts.Protocol;

namespace Broker.Tests.Protocol;

/// <summary>
/// The <see cref="Close"/> catalogue against a table written out by hand: clients and acceptance
/// checks match the reasons byte for byte, dashboards the tags, and the code's range decides
/// reconnects (PROTOCOL §6).
/// </summary>
public sealed class CloseTests
{
    public static TheoryData<Close, int, string, string, bool> Catalogue => new()
    {
        { Close.Normal, 1000, "", "normal", false },
        { Close.AuthTimeout, 4401, "auth timeout", "auth_timeout", false },
        { Close.Unauthorized, 4401, "unauthorized", "unauthorized", false },
        { Close.TokenExpired, 4401, "token expired", "token_expired", false },
        { Close.TooManyConnections, 4403, "too many connections", "too_many_connections", false },
        { Close.Disconnected, 4500, "disconnected", "disconnected", true },
        { Close.DisconnectedForbidden, 4403, "disconnected", "disconnected", false },
        { Close.SlowConsumer, 4508, "slow consumer", "slow_consumer", true },
        { Close.HeartbeatTimeout, 1008, "heartbeat timeout", "heartbeat_timeout", true },
        { Close.RateLimit, 1008, "rate limit exceeded", "rate_limit", true },
        { Close.TooBig, 1009, "message too big", "too_big", true },
        { Close.InvalidUtf8, 1007, "invalid utf-8", "invalid_utf8", true },
        { Close.ShuttingDown, 1001, "node shutting down", "shutting_down", true },
        { Close.Internal, 1011, "internal error", "internal", true },
    };

    [Theory]
    [MemberData(nameof(Catalogue))]
    public void Each_close_has_its_code_reason_and_tags(Close close, int code, string reason, string tag, bool reconnect)
    {
        Assert.Equal((code, reason, tag, code.ToString(), reconnect), (close.Code, close.Reason, close.Tag, close.CodeTag, close.ShouldReconnect));
        // What a cluster message carries (code and reason) comes back as the same close.
        Assert.Equal(close, Close.Of(code, reason));
    }

    [Theory]
    [InlineData(CloseCodes.Normal, "", "normal")]
    [InlineData(CloseCodes.Policy, "heartbeat timeout", "heartbeat_timeout")]
    [InlineData(CloseCodes.GoingAway, "", "normal")]
    [InlineData(CloseCodes.Forbidden, "something new and unbounded", "other")]
    public void Reasons_map_onto_a_fixed_set_of_tags_whatever_the_code(int code, string reason, string tag) =>
        Assert.Equal(tag, Close.Of(code, reason).Tag);

    [Fact]
    public void A_code_outside_the_catalogue_is_tagged_other() =>
        Assert.Equal("other", Close.Of(4999, "disconnected").CodeTag);
}
