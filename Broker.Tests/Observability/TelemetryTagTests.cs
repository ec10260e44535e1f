using Broker.Actors.Observability;
using Broker.Contracts.Protocol;
using Xunit;

namespace Broker.Tests.Observability;

/// <summary>Tags stay low-cardinality whatever the validator says (a close's tags: <see cref="Broker.Tests.Contracts.CloseTests"/>).</summary>
public sealed class TelemetryTagTests
{
    [Theory]
    [InlineData("token expired", AuthFailureReasons.ExpiredToken)]
    [InlineData("malformed token", AuthFailureReasons.MalformedToken)]
    [InlineData("token too large", AuthFailureReasons.MalformedToken)]
    [InlineData("no token", AuthFailureReasons.MalformedToken)]
    [InlineData("bad signature", AuthFailureReasons.InvalidToken)]
    [InlineData("wrong audience", AuthFailureReasons.InvalidToken)]
    [InlineData(Broker.Actors.Auth.ReservedSubjects.Failure, AuthFailureReasons.ReservedSubject)]
    [InlineData(null, AuthFailureReasons.InvalidToken)]
    public void Validator_failures_map_onto_a_fixed_set_of_reasons(string? failure, string reason) =>
        Assert.Equal(reason, AuthFailureReasons.FromValidator(failure));

    [Fact]
    public void Only_message_frames_are_stamped_for_delivery_metrics()
    {
        Assert.NotEqual(0, BrokerMetrics.FanOutStamp(ServerFrames.Message("r", 1, "e", "u", """{"a":1}"""u8)));
        Assert.Equal(0, BrokerMetrics.FanOutStamp(ServerFrames.Presence(new PresenceData("r", "join", "u"))));
    }
}
