using System.Net.WebSockets;
using System.Text;

namespace Broker.Tests.Integration;

/// <summary>
/// PROTOCOL §3 and §6, adversarially: each row sends one bad input on a fresh authenticated
/// connection, while a control client on the same route must still receive a broadcast published
/// after it (nobody else is affected).
/// </summary>
[Collection(SharedHostCollection.Name)]
public sealed class BadInputTests(SharedHostFixture fixture)
{
    private const int MaxMessageBytes = 64 * 1024; // the default Broker:Limits:MaxMessageBytes

    private BrokerTestHost Host => fixture.Host;

    /// <summary>Rows that get <c>error bad_request</c> and leave the connection open: name, frame, the id the error must echo.</summary>
    public static TheoryData<string, string, string?> MalformedTextFrames => new()
    {
        { "garbage text", "hello, broker", null },
        { "a JSON array", """[{"type":"ping"}]""", null },
        { "truncated JSON", """{"type":"ping","id":"t1" """, null },
        { "a number", "42", null },
        { "JSON null", "null", null },
        { "missing type", """{"id":"no-type"}""", "no-type" },
        { "a type that is not a string", """{"type":7,"id":"num-type"}""", "num-type" },
        { "unknown type", """{"type":"teleport","id":"unknown-type"}""", "unknown-type" },
        { "publish data that is a string", """{"type":"publish","id":"shape-1","data":"payload"}""", "shape-1" },
        { "publish data without a payload", """{"type":"publish","id":"shape-2","data":{"excludeSelf":true}}""", "shape-2" },
        { "publish excludeSelf that is not a boolean", """{"type":"publish","id":"shape-3","data":{"payload":1,"excludeSelf":"yes"}}""", "shape-3" },
        { "publish data that is an array", """{"type":"publish","id":"shape-4","data":[1,2]}""", "shape-4" },
        { "auth data without a token", """{"type":"auth","id":"shape-5","data":{}}""", "shape-5" },
        { "an id longer than 64 characters", $$"""{"type":"ping","id":"{{new string('i', 65)}}"}""", null },
        { "an id that is a number", """{"type":"ping","id":12}""", null },
        { "an id that is an object", """{"type":"ping","id":{"a":1}}""", null },
        // Valid JSON, invalid UTF-16: these closed the connection 1011 with a parser stack trace (issue #15).
        { "an id that escapes a lone surrogate", """{"type":"ping","id":"\ud800"}""", null },
        { "a type that escapes a lone surrogate", """{"type":"\udc00x"}""", null },
        { "a payload that escapes a lone surrogate", """{"type":"publish","id":"s1","data":{"room":"r","payload":"\ud83d"}}""", null },
    };

    [Theory]
    [MemberData(nameof(MalformedTextFrames))]
    public async Task Malformed_frame_gets_bad_request_and_the_connection_stays_open(string row, string frame, string? echoedId)
    {
        await using var control = await Host.ConnectAuthenticatedAsync("control");
        await using var bad = await Host.ConnectAuthenticatedAsync("bad-" + row.Replace(' ', '-'));

        await bad.SendTextAsync(frame);

        var error = await bad.ReceiveAsync();
        Assert.True(error.ErrorCode() == "bad_request", $"{row}: expected error bad_request, got {error}");
        Assert.Equal(echoedId, error.Id());
        await bad.PingPongAsync();
        await AssertControlStillServedAsync(control, alsoReaches: bad);
    }

    [Fact]
    public async Task Binary_frame_gets_bad_request_and_the_connection_stays_open()
    {
        await using var control = await Host.ConnectAuthenticatedAsync("control");
        await using var bad = await Host.ConnectAuthenticatedAsync("bad-binary");

        await bad.SendRawAsync(new byte[] { 1, 2, 3, 4 }, WebSocketMessageType.Binary, endOfMessage: true);

        var error = await bad.ReceiveAsync();
        Assert.Equal("bad_request", error.ErrorCode());
        await bad.PingPongAsync();
        await AssertControlStillServedAsync(control, alsoReaches: bad);
    }

    [Fact]
    public async Task Frame_over_the_size_limit_is_closed_with_1009()
    {
        await using var control = await Host.ConnectAuthenticatedAsync("control");
        await using var bad = await Host.ConnectAuthenticatedAsync("bad-too-big");

        var payload = new string('x', MaxMessageBytes + 1024);
        await TrySendAsync(() => bad.SendTextAsync("{\"type\":\"publish\",\"data\":{\"payload\":\"" + payload + "\"}}"));

        var close = await bad.ExpectCloseAsync();
        Assert.True(close.Status == 1009, close.ToString());
        await AssertControlStillServedAsync(control);
    }

    [Fact]
    public async Task Fragmented_message_over_the_size_limit_is_closed_with_1009()
    {
        await using var control = await Host.ConnectAuthenticatedAsync("control");
        await using var bad = await Host.ConnectAuthenticatedAsync("bad-fragments");

        // Each fragment is well under the limit; together they are not. No fragment is final.
        var fragment = Encoding.UTF8.GetBytes(new string('y', 16 * 1024));
        await TrySendAsync(async () =>
        {
            await bad.SendRawAsync("""{"type":"publish","data":{"payload":" """u8.ToArray(), WebSocketMessageType.Text, endOfMessage: false);
            for (var i = 0; i < MaxMessageBytes / fragment.Length + 2; i++)
                await bad.SendRawAsync(fragment, WebSocketMessageType.Text, endOfMessage: false);
        });

        var close = await bad.ExpectCloseAsync();
        Assert.True(close.Status == 1009, close.ToString());
        await AssertControlStillServedAsync(control);
    }

    [Fact]
    public async Task Invalid_utf8_in_a_text_frame_is_closed_with_1007()
    {
        await using var control = await Host.ConnectAuthenticatedAsync("control");
        await using var bad = await Host.ConnectAuthenticatedAsync("bad-utf8");

        byte[] invalid = [.. """{"type":"ping","id":"""u8, 0x22, 0xC3, 0x28, 0xFF, 0x22, (byte)'}'];
        await TrySendAsync(() => bad.SendRawAsync(invalid, WebSocketMessageType.Text, endOfMessage: true));

        var close = await bad.ExpectCloseAsync();
        Assert.True(close.Status == 1007, close.ToString());
        await AssertControlStillServedAsync(control);
    }

    /// <summary>The control client publishes after the bad input and receives its own broadcast (and so does <paramref name="alsoReaches"/>).</summary>
    private static async Task AssertControlStillServedAsync(TestClient control, TestClient? alsoReaches = null)
    {
        var marker = Guid.NewGuid().ToString("N");
        var ack = await control.PublishAsync(new JsonObject { ["marker"] = marker });
        var offset = ack.Data().GetProperty("offset").GetInt64();
        foreach (var client in alsoReaches is null ? [control] : new[] { control, alsoReaches })
        {
            while (true)
            {
                var message = await client.ReceiveAsync("message");
                if (message.Data().GetProperty("offset").GetInt64() != offset) continue;
                Assert.Equal(marker, message.Data().GetProperty("payload").GetProperty("marker").GetString());
                break;
            }
        }
    }

    /// <summary>Sending may fail once the server has closed on us; the close is what the test asserts.</summary>
    private static async Task TrySendAsync(Func<Task> send)
    {
        try { await send(); }
        catch (Exception e) when (e is WebSocketException or IOException or OperationCanceledException) { }
    }
}
