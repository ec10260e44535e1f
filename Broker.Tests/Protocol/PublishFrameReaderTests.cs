using System.Text;
using Broker.Contracts.Protocol;

namespace Broker.Tests.Protocol;

/// <summary>
/// The one-pass <c>publish</c> reader (<see cref="PublishFrameReader"/>): what it takes the short
/// way, and that it never answers differently from the full parse through a document
/// (<see cref="FrameParser.ParseWithDocument"/>), which it leaves every doubtful frame to.
/// </summary>
public sealed class PublishFrameReaderTests
{
    public static TheoryData<string, string?> Accepted => new()
    {
        // frame, the payload bytes the command carries
        { """{"type":"publish","data":{"room":"r","payload":{"a":[1,{"b":[{"c":null}]}],"d":"e"}}}""", """{"a":[1,{"b":[{"c":null}]}],"d":"e"}""" },
        { """{"type":"publish","data":{"room":"r","payload":"text with \"quotes\" and \n"}}""", "\"text with \\\"quotes\\\" and \\n\"" },
        { """{"type":"publish","data":{"room":"r","payload":[{"a":1},{"a":2}]}}""", """[{"a":1},{"a":2}]""" }, // the same name in two objects
        { """{"type":"publish","data":{"room":"r","payload":{"a":{"a":{"a":1}}}}}""", """{"a":{"a":{"a":1}}}""" }, // and in nested ones
        { """{"type":"publish","data":{"room":"r","payload":  1.5e3  }}""", "1.5e3" },
        { """{"type":"publish","data":{"room":"r","payload":null}}""", "null" },
        { """{"data":{"payload":true,"room":"r"},"id":"i","type":"publish"}""", "true" }, // any order
        { """{"type":"pub\u006cish","data":{"room":"r","payload":1}}""", "1" }, // an escaped type value
        { """{"type":"publish","data":{"room":"a\u0062","payload":1}}""", "1" }, // an escaped room name
        { """{"type":"publish","zz":1,"zz":{"q":1,"q":2},"data":{"room":"r","payload":1}}""", "1" }, // outside the envelope: skipped, as the serializer does
    };

    [Theory]
    [MemberData(nameof(Accepted))]
    public void A_plain_publish_is_read_in_one_pass_with_its_payload_as_the_frames_own_bytes(string frame, string? payload)
    {
        var command = PublishFrameReader.TryRead(Encoding.UTF8.GetBytes(frame));

        Assert.NotNull(command);
        Assert.Equal(payload, Encoding.UTF8.GetString(command.PayloadUtf8));
        AgreesWithTheFullParse(frame);
    }

    public static TheoryData<string, string> LeftToTheFullParse => new()
    {
        // frame, a fragment of the full parse's error ("" when it accepts the frame)
        { """{"type":"publish","data":{"room":"r","payload":{"a":1,"a":2}}}""", "property named twice" },
        { """{"type":"publish","data":{"room":"r","payload":[{"x":[{"a":1,"a":2}]}]}}""", "property named twice" },
        { """{"type":"publish","data":{"room":"r","payload":{"a":1,"\u0061":2}}}""", "property named twice" }, // twice once unescaped
        { """{"type":"publish","data":{"room":"r","payload":1,"room":"s"}}""", "property named twice" },
        { """{"type":"publish","data":{"room":"r","payload":1,"zz":1,"zz":2}}""", "property named twice" },
        { """{"type":"publish","data":{"room":"r","payload":1,"zz":{"q":1,"q":2}}}""", "property named twice" },
        { """{"type":"publish","type":"publish","data":{"room":"r","payload":1}}""", "property named twice" },
        { """{"type":"publish","id":"a","id":"b","data":{"room":"r","payload":1}}""", "property named twice" },
        { """{"type":"publish","data":{"ro\u006fm":"x","payload":1}}""", "" }, // an escaped name: the full parse unescapes it
        { """{"type":"publish","data":{"room":"a\u0020b","payload":1}}""", "room must match" },
        { """{"type":"publish","data":{"room":"r","payload":"\ud800"}}""", "lone surrogate" },
        { """{"type":"publish","q":"\udc00","data":{"room":"r","payload":1}}""", "lone surrogate" },
        { """{"type":"publish","data":{"room":"r","payload":1,"idempotencyKey":""}}""", "idempotencyKey must be" },
        { "{\"type\":\"publish\",\"data\":{\"room\":\"r\",\"payload\":1,\"idempotencyKey\":\"" + new string('k', 65) + "\"}}", "idempotencyKey must be" },
        { """{"type":"publish","data":{"room":"r","payload":1,"idempotencyKey":7}}""", "wrong shape" },
        { """{"type":"publish","data":{"room":"r","payload":1,"excludeSelf":1}}""", "wrong shape" },
        { """{"type":"publish","data":{"room":"r"}}""", "needs a payload" },
        { """{"type":"publish","data":{"room":"r","payload":1}} x""", "malformed JSON" },
        { """{"type":"join","data":{"room":"r"}}""", "" }, // not a publish
    };

    [Theory]
    [MemberData(nameof(LeftToTheFullParse))]
    public void A_publish_it_is_unsure_of_is_left_to_the_full_parse_whose_answer_stands(string frame, string errorFragment)
    {
        Assert.Null(PublishFrameReader.TryRead(Encoding.UTF8.GetBytes(frame)));

        var result = FrameParser.Parse(Encoding.UTF8.GetBytes(frame));
        if (errorFragment == "") Assert.NotNull(result.Command);
        else Assert.Contains(errorFragment, result.Error?.Message);
    }

    [Fact]
    public void An_object_too_large_to_check_for_names_given_twice_is_left_to_the_full_parse()
    {
        var properties = string.Join(",", Enumerable.Range(0, PublishFrameReader.MaxPropertiesPerObject + 1).Select(i => $"\"p{i}\":{i}"));
        var frame = """{"type":"publish","data":{"room":"r","payload":{""" + properties + "}}}";

        Assert.Null(PublishFrameReader.TryRead(Encoding.UTF8.GetBytes(frame)));
        Assert.IsType<PublishCommand>(FrameParser.Parse(Encoding.UTF8.GetBytes(frame)).Command);
    }

    [Fact]
    public void IdempotencyKey_id_and_excludeSelf_are_read_as_the_full_parse_reads_them()
    {
        const string frame = """{"type":"publish","id":"p\u0031","data":{"room":"r","payload":{"n":1},"excludeSelf":true,"idempotencyKey":"k\u00e9y-1"}}""";

        var command = PublishFrameReader.TryRead(Encoding.UTF8.GetBytes(frame));

        Assert.NotNull(command);
        Assert.Equal(("p1", "r", true, "kéy-1"), (command.Id, command.Room, command.ExcludeSelf, command.IdempotencyKey));
        AgreesWithTheFullParse(frame);
        AgreesWithTheFullParse("""{"type":"publish","data":{"room":"r","payload":1,"idempotencyKey":null,"excludeSelf":null}}""");
        AgreesWithTheFullParse("""{"type":"publish","id":null,"data":{"room":null,"payload":1}}"""); // a route-wide broadcast
    }

    [Fact]
    public void Mutated_frames_get_the_same_answer_as_from_the_full_parse()
    {
        // The existing fuzz of FrameParserTests, compared answer by answer: whatever the short way
        // accepts, the full parse accepts as the same command; whatever it refuses, the full parse
        // answered anyway. Seeded, so a failure reproduces.
        var random = new Random(1801);
        string[] seeds =
        [
            """{"type":"publish","id":"p1","data":{"room":"general","payload":{"a":[1,2,{"b":"c"}],"n":1.5e3},"excludeSelf":false,"idempotencyKey":"k1"}}""",
            """{"data":{"payload":[{"x":"y\n"},{"x":"z"}],"room":"r.1"},"type":"publish","extra":{"e":[1]}}""",
            """{"type":"publish","data":{"room":"r","payload":"\ud83d\ude00 \"q\""}}""",
        ];
        string[] splices = ["\\ud800", "\\udc00", "\\u0000", "\\", "\"", "{", "}", "[", "]", ",", ":", "null", "1e999", "-", "\"a\":1,", "\"room\":\"x\",", "\\u0061"];
        var shortWay = 0;
        for (var i = 0; i < 20_000; i++)
        {
            var text = seeds[random.Next(seeds.Length)];
            for (var m = random.Next(0, 3); m > 0; m--)
            {
                var at = random.Next(text.Length + 1);
                text = random.Next(3) switch
                {
                    0 => text[..at] + splices[random.Next(splices.Length)] + text[at..],
                    1 => at < text.Length ? text.Remove(at, 1) : text,
                    _ => text[..at],
                };
            }
            if (AgreesWithTheFullParse(text)) shortWay++;
        }
        Assert.True(shortWay > 1000, $"only {shortWay} of 20,000 frames took the short way: the test no longer tests it");
    }

    /// <summary>Asserts the parser's answer is the full parse's; true when the short way gave it.</summary>
    private static bool AgreesWithTheFullParse(string frame)
    {
        var utf8 = Encoding.UTF8.GetBytes(frame);
        var full = FrameParser.ParseWithDocument(utf8, null);
        var quick = PublishFrameReader.TryRead(utf8);
        if (quick is null)
        {
            Assert.Equal(Describe(full), Describe(FrameParser.Parse(utf8)));
            return false;
        }
        Assert.True(full.Command is PublishCommand, $"the short way accepted what the full parse refuses: {frame} → {full.Error?.Message}");
        Assert.Equal(Describe(full), Describe(FrameParseResult.Ok(quick)));
        return true;
    }

    private static string Describe(FrameParseResult result) => result.Command switch
    {
        PublishCommand p => $"publish id={p.Id} room={p.Room} payload={Encoding.UTF8.GetString(p.PayloadUtf8)} exclude={p.ExcludeSelf} key={p.IdempotencyKey}",
        { } other => other.ToString()!,
        null => $"error {result.Error!.Code} {result.Error.Message} id={result.Error.Id}",
    };
}
