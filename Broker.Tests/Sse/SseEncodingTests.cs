using System.Buffers;
using System.Text;
using Broker.AspNetCore.Sse;
using Broker.Contracts.Protocol;

namespace Broker.Tests.Sse;

/// <summary>The two pure pieces of the SSE transport: a frame as an event, a POST body as envelopes.</summary>
public sealed class SseEncodingTests
{
    [Theory]
    [InlineData("""{"type":"ping"}""", "data: {\"type\":\"ping\"}\n\n")]
    [InlineData("{\"a\":\n1}", "data: {\"a\":\ndata: 1}\n\n")]
    [InlineData("{\"a\":\r\n1,\r\"b\":2}", "data: {\"a\":\ndata: 1,\ndata: \"b\":2}\n\n")]
    [InlineData("{\"a\":1}\n", "data: {\"a\":1}\ndata: \n\n")]
    public void Frame_becomes_one_event_with_a_data_line_per_line(string frame, string expected)
    {
        var buffer = new ArrayBufferWriter<byte>();
        SseEvents.WriteFrame(buffer, Encoding.UTF8.GetBytes(frame));
        Assert.Equal(expected, Encoding.UTF8.GetString(buffer.WrittenSpan));
    }

    [Fact]
    public void Close_event_carries_the_close_code_and_reason()
    {
        var close = Frame.Parse(SseEvents.CloseFrame(Close.SlowConsumer));
        Assert.Equal("close", close.Type());
        Assert.Equal(4508, close.Data().Long("code"));
        Assert.Equal("slow consumer", close.Data().Str("reason"));
    }

    [Theory]
    [InlineData("""{"type":"ping"}""", new[] { """{"type":"ping"}""" })]
    [InlineData("""  [ {"type":"ping"} , {"type":"pong","id":"x"},7 ,"s"] """, new[] { """{"type":"ping"}""", """{"type":"pong","id":"x"}""", "7", "\"s\"" })]
    [InlineData("""[[1,[2]],{"a":{"b":[]}}]""", new[] { "[1,[2]]", """{"a":{"b":[]}}""" })]
    public void Body_splits_into_the_envelopes_as_written(string body, string[] expected)
    {
        var result = SsePostBody.Split(Encoding.UTF8.GetBytes(body), maxEnvelopeBytes: 1024, maxEnvelopes: 10);
        Assert.Null(result.Error);
        Assert.Equal(expected, result.Envelopes!.Select(e => Encoding.UTF8.GetString(e)));
    }

    [Theory]
    [InlineData("", "bad_request")]
    [InlineData("   ", "bad_request")]
    [InlineData("[]", "bad_request")]
    [InlineData("{", "bad_request")]
    [InlineData("{} {}", "bad_request")]
    [InlineData("[1,2,3]", "too_large")] // more envelopes than allowed (2)
    [InlineData("""["0123456789"]""", "too_large")] // an envelope over the limit (8 bytes)
    public void Bad_body_is_refused_with_a_code(string body, string code)
    {
        var result = SsePostBody.Split(Encoding.UTF8.GetBytes(body), maxEnvelopeBytes: 8, maxEnvelopes: 2);
        Assert.Null(result.Envelopes);
        Assert.Equal(code, result.Code);
    }
}

/// <summary>The session id is a credential on anonymous routes: a connection's record text (dead letters, failures) never shows it.</summary>
public sealed class SseSessionRedactionTests
{
    [Fact]
    public void Connection_info_text_never_contains_the_session_id()
    {
        var session = SseSessions.NewId();
        var info = new Broker.Actors.Connections.ConnectionInfo("c1", new Broker.Actors.Connections.RoutePolicy("open", true, true), "127.0.0.1", null, session);

        var text = info.ToString();

        Assert.DoesNotContain(session, text);
        Assert.Contains("c1", text);
    }
}
