using Broker.Actors.Handlers;
using Broker.Contracts.Protocol;
using Broker.AspNetCore.Embedding;
using Microsoft.Extensions.DependencyInjection;

namespace Broker.Tests.Embedding;

/// <summary>Custom message types are checked when registered: a bad or built-in name fails at start-up, not on the wire.</summary>
public sealed class MessageHandlerRegistrationTests
{
    private sealed class Echo : IBrokerMessageHandler
    {
        public ValueTask<HandlerReply?> HandleAsync(BrokerMessageContext context, JsonElement data, CancellationToken cancellationToken) =>
            ValueTask.FromResult<HandlerReply?>(HandlerReply.Of("echo.reply", data));
    }

    [Theory]
    [InlineData("join")]
    [InlineData("publish")]
    [InlineData("auth")]
    [InlineData("ack")]
    [InlineData("error")]
    [InlineData("message")]
    public void A_built_in_type_cannot_be_overridden(string type)
    {
        var error = Assert.Throws<ArgumentException>(() => new ServiceCollection().AddBrokerMessageHandler<Echo>(type));
        Assert.Contains("built-in", error.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("Order.Track")]
    [InlineData("1order")]
    [InlineData("order track")]
    [InlineData("order/track")]
    public void A_malformed_type_name_is_refused(string type) =>
        Assert.Throws<ArgumentException>(() => new ServiceCollection().AddBrokerMessageHandler<Echo>(type));

    [Fact]
    public void A_type_name_longer_than_64_characters_is_refused() =>
        Assert.Throws<ArgumentException>(() => new ServiceCollection().AddBrokerMessageHandler<Echo>("a" + new string('b', 64)));

    [Fact]
    public void A_type_registered_twice_is_refused()
    {
        var services = new ServiceCollection().AddBrokerMessageHandler<Echo>("order.track");
        Assert.Throws<ArgumentException>(() => services.AddBrokerMessageHandler<Echo>("order.track"));
    }

    [Fact]
    public async Task A_type_enabled_on_a_route_the_broker_does_not_have_stops_the_start_up_naming_it()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var host = await Infrastructure.BrokerTestHost.StartAsync(services: s => s.AddBrokerMessageHandler<Echo>("echo.it", "no-such-route"));
        });
        Assert.Contains("no-such-route", error.ToString());
    }

    [Fact]
    public void A_handler_cannot_reply_with_a_built_in_type_or_an_unknown_error_code()
    {
        Assert.Throws<ArgumentException>(() => HandlerReply.Of("joined"));
        Assert.Throws<ArgumentException>(() => HandlerReply.Error("oops", "no such code"));
    }

    [Fact]
    public void Built_in_frames_parse_exactly_as_before_when_custom_types_are_enabled()
    {
        var custom = new HashSet<string> { "order.track" };
        var join = """{"type":"join","id":"j","data":{"room":"r"}}"""u8;
        Assert.Equal(FrameParser.Parse(join).Command, FrameParser.Parse(join, custom).Command);
        var unknown = """{"type":"order.cancel","id":"u"}"""u8;
        Assert.Equal(FrameParser.Parse(unknown).Error, FrameParser.Parse(unknown, custom).Error);

        var track = Assert.IsType<CustomCommand>(FrameParser.Parse("""{"type":"order.track","id":"t","data":{"order":"o-1"}}"""u8, custom).Command);
        Assert.Equal(("t", "order.track", "o-1"), (track.Id, track.Type, track.Data.GetProperty("order").GetString()));
    }
}
