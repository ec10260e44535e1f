using Broker.Actors.Auth;
using Broker.Actors.Observability;
using Broker.Contracts.Protocol;

namespace Broker.Tests.Observability;

/// <summary>Tags stay low-cardinality whatever the validator says (a close's tags: <see cref="Broker.Tests.Protocol.CloseTests"/>).</summary>
public sealed class TelemetryTagTests
{
    [Theory]
    [InlineData(TokenFailure.Expired, AuthFailureReasons.ExpiredToken)]
    [InlineData(TokenFailure.Malformed, AuthFailureReasons.MalformedToken)]
    [InlineData(TokenFailure.BadSignature, AuthFailureReasons.InvalidToken)]
    [InlineData(TokenFailure.WrongIssuerOrAudience, AuthFailureReasons.InvalidToken)]
    [InlineData(TokenFailure.NotYetValid, AuthFailureReasons.InvalidToken)]
    [InlineData(TokenFailure.MissingClaim, AuthFailureReasons.InvalidToken)]
    [InlineData(TokenFailure.Unavailable, AuthFailureReasons.InvalidToken)]
    [InlineData(TokenFailure.ReservedSubject, AuthFailureReasons.ReservedSubject)]
    [InlineData(TokenFailure.Invalid, AuthFailureReasons.InvalidToken)]
    public void Validator_failures_map_onto_a_fixed_set_of_reasons(TokenFailure failure, string reason) =>
        Assert.Equal(reason, AuthFailureReasons.For(failure));

    [Fact]
    public void Only_message_frames_are_stamped_for_delivery_metrics()
    {
        Assert.NotEqual(0, BrokerMetrics.FanOutStamp(ServerFrames.Message("r", 1, "e", "u", """{"a":1}"""u8)));
        Assert.Equal(0, BrokerMetrics.FanOutStamp(ServerFrames.Presence(new PresenceData("r", "join", "u"))));
    }
}
