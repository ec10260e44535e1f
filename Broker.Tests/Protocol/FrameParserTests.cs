using System.Text;
using Broker.Contracts.Protocol;

namespace Broker.Tests.Protocol;

/// <summary>
/// <see cref="FrameParser"/> against a table of client frames (PROTOCOL §3): each row is the frame
/// text, what it must become (an error code, or the command type) and a fragment of the error
/// message (or of nothing, for accepted frames).
/// </summary>
public sealed class FrameParserTests
{
    private const string BadRequest = ErrorCodes.BadRequest;

    private static readonly string Id64 = new('i', 64);
    private static readonly string Id65 = new('i', 65);
    private static readonly string Room128 = new('r', 128);
    private static readonly string Room129 = new('r', 129);

    public static TheoryData<string, string, string> Table => new()
    {
        // not an envelope at all
        { "hello", BadRequest, "must be a JSON object" },
        { "", BadRequest, "must be a JSON object" },
        { "[1,2,3]", BadRequest, "must be a JSON object" },
        { """[{"type":"ping"}]""", BadRequest, "must be a JSON object" },
        { "42", BadRequest, "must be a JSON object" },
        { "\"ping\"", BadRequest, "must be a JSON object" },
        { "null", BadRequest, "must be a JSON object" },
        { """{"type":"ping" """, BadRequest, "malformed JSON" },
        { """{"type":"ping",}""", BadRequest, "malformed JSON" },
        { """{"type":'ping'}""", BadRequest, "malformed JSON" },

        // the type
        { "{}", BadRequest, "missing type" },
        { """{"data":{"room":"a"}}""", BadRequest, "missing type" },
        { """{"Type":"ping"}""", BadRequest, "missing type" },
        { """{"type":5}""", BadRequest, "type must be a string" },
        { """{"type":null}""", BadRequest, "type must be a string" },
        { """{"type":["ping"]}""", BadRequest, "type must be a string" },
        { """{"type":"launch"}""", BadRequest, "unknown type 'launch'" },
        { """{"type":"PING"}""", BadRequest, "unknown type" },
        { """{"type":"welcome"}""", BadRequest, "unknown type" },

        // the id
        { $$"""{"type":"ping","id":"{{Id65}}"}""", BadRequest, "at most 64 characters" },
        { """{"type":"ping","id":7}""", BadRequest, "at most 64 characters" },
        { """{"type":"ping","id":{"a":1}}""", BadRequest, "at most 64 characters" },
        { """{"type":"ping","id":true}""", BadRequest, "at most 64 characters" },
        { $$"""{"type":"ping","id":"{{Id64}}"}""", nameof(PingCommand), "" },
        { """{"type":"ping","id":null}""", nameof(PingCommand), "" },

        // data of the wrong shape
        { """{"type":"join","data":{"room":5}}""", BadRequest, "wrong shape for 'join'" },
        { """{"type":"join","data":"x"}""", BadRequest, "join needs data" },
        { """{"type":"join"}""", BadRequest, "join needs data" },
        { """{"type":"join","data":null}""", BadRequest, "join needs data" },
        { """{"type":"join","data":["general"]}""", BadRequest, "join needs data" },
        { """{"type":"leave","data":"general"}""", BadRequest, "leave needs data" },
        { """{"type":"auth","data":"token"}""", BadRequest, "auth needs data" },
        { """{"type":"auth","data":{}}""", BadRequest, "auth needs data" },
        { """{"type":"auth","data":{"token":""}}""", BadRequest, "auth needs data" },
        { """{"type":"auth","data":{"token":42}}""", BadRequest, "wrong shape for 'auth'" },
        { """{"type":"publish","data":"x"}""", BadRequest, "publish needs data" },
        { """{"type":"publish","data":{"room":5,"payload":1}}""", BadRequest, "wrong shape for 'publish'" },
        { """{"type":"publish","data":{"room":"general","payload":1,"excludeSelf":"yes"}}""", BadRequest, "wrong shape for 'publish'" },
        { """{"type":"publish","data":{"room":"general"}}""", BadRequest, "publish needs a payload" },
        { """{"type":"send","data":{"payload":1}}""", BadRequest, "send needs a user id" },
        { """{"type":"send","data":{"user":"","payload":1}}""", BadRequest, "send needs a user id" },
        { $$$"""{"type":"send","data":{"user":"{{{new string('u', 257)}}}","payload":1}}""", BadRequest, "send needs a user id" },
        { """{"type":"send","data":{"user":"bob"}}""", BadRequest, "send needs a payload" },
        { """{"type":"send","data":7}""", BadRequest, "send needs data" },
        { """{"type":"join","data":{"room":"a","since":{"offset":3}}}""", BadRequest, "since needs" },
        { """{"type":"join","data":{"room":"a","since":{"epoch":"e"}}}""", BadRequest, "since needs" },
        { """{"type":"join","data":{"room":"a","since":{"epoch":"e","offset":-1}}}""", BadRequest, "since needs" },
        { """{"type":"join","data":{"room":"a","since":{"epoch":"e","offset":"3"}}}""", BadRequest, "wrong shape for 'join'" },

        // room names: ^[A-Za-z0-9_.:-]{1,128}$
        { """{"type":"join","data":{}}""", BadRequest, "room is required" },
        { """{"type":"join","data":{"room":""}}""", BadRequest, "room must match" },
        { $$$"""{"type":"join","data":{"room":"{{{Room129}}}"}}""", BadRequest, "room must match" },
        { """{"type":"join","data":{"room":"two words"}}""", BadRequest, "room must match" },
        { """{"type":"join","data":{"room":"général"}}""", BadRequest, "room must match" },
        { """{"type":"join","data":{"room":"房间"}}""", BadRequest, "room must match" },
        { """{"type":"join","data":{"room":"a/b"}}""", BadRequest, "room must match" },
        { """{"type":"join","data":{"room":"a\nb"}}""", BadRequest, "room must match" },
        { """{"type":"leave","data":{"room":"a b"}}""", BadRequest, "room must match" },
        { """{"type":"publish","data":{"room":"a b","payload":1}}""", BadRequest, "room must match" },
        { """{"type":"join","data":{"room":"a"}}""", nameof(JoinCommand), "" },
        { $$$"""{"type":"join","data":{"room":"{{{Room128}}}"}}""", nameof(JoinCommand), "" },
        { """{"type":"join","data":{"room":"Az09_.:-"}}""", nameof(JoinCommand), "" },

        // every valid command
        { """{"type":"auth","data":{"token":"t"}}""", nameof(AuthCommand), "" },
        { """{"type":"join","data":{"room":"general","since":{"epoch":"e1","offset":0}}}""", nameof(JoinCommand), "" },
        { """{"type":"leave","data":{"room":"general"}}""", nameof(LeaveCommand), "" },
        { """{"type":"publish","data":{"room":"general","payload":{"a":[1,2]}}}""", nameof(PublishCommand), "" },
        { """{"type":"publish","data":{"room":"general","payload":null}}""", nameof(PublishCommand), "" },
        { """{"type":"send","data":{"user":"bob","payload":"hi"}}""", nameof(SendCommand), "" },
        { """{"type":"ping"}""", nameof(PingCommand), "" },
        { """{"type":"pong"}""", nameof(PongCommand), "" },
        { """  {"data":null,"id":"x","type":"ping"}  """, nameof(PingCommand), "" },

        // escapes that no string can hold: a lone surrogate, anywhere (issue #15: it crashed the connection)
        { """{"type":"ping","id":"\ud800"}""", BadRequest, "lone surrogate" },
        { """{"type":"\udc00x"}""", BadRequest, "lone surrogate" },
        { """{"type":"auth","data":{"token":"a\ud800b"}}""", BadRequest, "lone surrogate" },
        { """{"type":"join","data":{"room":"\udfff"}}""", BadRequest, "lone surrogate" },
        { """{"type":"publish","data":{"room":"r","payload":{"t":"\ud83d"}}}""", BadRequest, "lone surrogate" },
        { """{"type":"publish","data":{"room":"r","payload":{"\ud800":1}}}""", BadRequest, "lone surrogate" },
        { """{"type":"publish","data":{"room":"r","payload":"\ude00\ud83d"}}""", BadRequest, "lone surrogate" },
        // a pair is a character: accepted
        { """{"type":"publish","id":"\ud83d\ude00","data":{"room":"r","payload":"\ud83d\ude00"}}""", nameof(PublishCommand), "" },
    };

    [Fact]
    public void No_frame_makes_the_parser_throw()
    {
        // Mutations of valid frames (bytes changed, cut, duplicated, escapes spliced in): whatever
        // comes out, the parser answers with a command or an error, never an exception. Seeded, so
        // a failure reproduces.
        var random = new Random(1401);
        string[] seeds =
        [
            """{"type":"publish","id":"p1","data":{"room":"general","payload":{"a":[1,2,{"b":"c"}],"n":1.5e3}}}""",
            """{"type":"join","id":"j","data":{"room":"general","since":{"epoch":"e-1","offset":41}}}""",
            """{"type":"auth","data":{"token":"x.y.z"}}""",
            """{"type":"send","data":{"user":"bob","payload":"hi"}}""",
        ];
        string[] splices = ["\\ud800", "\\udc00", "\\u0000", "\\", "\"", "{", "}", "[", "]", ",", ":", "null", "1e999", "-", "\\ud83d\\ude00"];
        for (var i = 0; i < 20_000; i++)
        {
            var text = seeds[random.Next(seeds.Length)];
            for (var m = random.Next(1, 4); m > 0; m--)
            {
                var at = random.Next(text.Length + 1);
                text = random.Next(3) switch
                {
                    0 => text[..at] + splices[random.Next(splices.Length)] + text[at..],
                    1 => at < text.Length ? text.Remove(at, 1) : text,
                    _ => text[..at],
                };
            }
            var result = Parse(text);
            Assert.True(result.Command is not null ^ result.Error is not null, text);
        }
    }

    [Theory]
    [MemberData(nameof(Table))]
    public void Frame_is_parsed_into_the_expected_command_or_error(string frame, string expected, string messageFragment)
    {
        var result = Parse(frame);

        if (expected == BadRequest)
        {
            Assert.Null(result.Command);
            Assert.NotNull(result.Error);
            Assert.Equal(BadRequest, result.Error.Code);
            Assert.Contains(messageFragment, result.Error.Message);
        }
        else
        {
            Assert.Null(result.Error);
            Assert.NotNull(result.Command);
            Assert.Equal(expected, result.Command.GetType().Name);
        }
    }

    [Theory]
    [InlineData("""{"type":"launch","id":"abc"}""")]
    [InlineData("""{"type":"join","id":"abc","data":{"room":"a b"}}""")]
    [InlineData("""{"type":"join","id":"abc","data":{"room":5}}""")]
    [InlineData("""{"type":5,"id":"abc"}""")]
    [InlineData("""{"id":"abc"}""")]
    [InlineData("""{"type":"publish","id":"abc","data":{"room":"general"}}""")]
    public void Error_for_a_frame_with_a_valid_id_echoes_the_id(string frame)
    {
        var result = Parse(frame);

        Assert.Equal("abc", result.Error?.Id);
    }

    [Fact]
    public void Error_for_an_unreadable_id_carries_no_id() =>
        Assert.Null(Parse($$"""{"type":"launch","id":"{{Id65}}"}""").Error?.Id);

    [Fact]
    public void Auth_carries_its_token_and_id() =>
        Assert.Equal(new AuthCommand("a1", "tok.en.x"), Parse("""{"type":"auth","id":"a1","data":{"token":"tok.en.x"}}""").Command);

    [Fact]
    public void Join_carries_the_room_and_the_recovery_position() =>
        Assert.Equal(new JoinCommand("j", "general", new RecoveryPosition("e-1", 41)),
            Parse("""{"type":"join","id":"j","data":{"room":"general","since":{"epoch":"e-1","offset":41}}}""").Command);

    [Fact]
    public void Join_without_since_has_no_recovery_position() =>
        Assert.Equal(new JoinCommand(null, "general", null), Parse("""{"type":"join","data":{"room":"general"}}""").Command);

    [Fact]
    public void Leave_carries_the_room() =>
        Assert.Equal(new LeaveCommand("l", "general"), Parse("""{"type":"leave","id":"l","data":{"room":"general"}}""").Command);

    [Fact]
    public void Publish_carries_room_payload_and_excludeSelf()
    {
        var publish = Assert.IsType<PublishCommand>(Parse("""{"type":"publish","id":"p","data":{"room":"general","payload":{"text":"hi","n":[1,2]},"excludeSelf":true}}""").Command);

        Assert.Equal(("p", "general", true), (publish.Id, publish.Room, publish.ExcludeSelf));
        Assert.Equal("""{"text":"hi","n":[1,2]}""", publish.Payload.GetRawText());
    }

    [Fact]
    public void Publish_payload_outlives_the_inbound_buffer()
    {
        var buffer = Encoding.UTF8.GetBytes("""{"type":"publish","data":{"room":"general","payload":{"text":"hi"}}}""");
        var publish = Assert.IsType<PublishCommand>(FrameParser.Parse(buffer).Command);

        Array.Clear(buffer); // the transport may reuse its buffer

        Assert.Equal("""{"text":"hi"}""", publish.Payload.GetRawText());
    }

    [Fact]
    public void Publish_excludeSelf_defaults_to_false() =>
        Assert.False(Assert.IsType<PublishCommand>(Parse("""{"type":"publish","data":{"room":"general","payload":1}}""").Command).ExcludeSelf);

    [Fact]
    public void Send_carries_user_and_payload()
    {
        var send = Assert.IsType<SendCommand>(Parse("""{"type":"send","id":"s","data":{"user":"bob","payload":[true]}}""").Command);

        Assert.Equal(("s", "bob"), (send.Id, send.User));
        Assert.Equal("[true]", send.Payload.GetRawText());
    }

    [Fact]
    public void Ping_and_pong_carry_their_ids()
    {
        Assert.Equal(new PingCommand("p"), Parse("""{"type":"ping","id":"p"}""").Command);
        Assert.Equal(new PongCommand("q"), Parse("""{"type":"pong","id":"q"}""").Command);
    }

    [Fact]
    public void Long_unknown_type_is_truncated_in_the_error_message()
    {
        var error = Parse($$"""{"type":"{{new string('x', 5000)}}"}""").Error!;

        Assert.True(error.Message.Length < 100, error.Message);
    }

    private static FrameParseResult Parse(string frame) => FrameParser.Parse(Encoding.UTF8.GetBytes(frame));
}
