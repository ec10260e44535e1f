using System.Text;
using System.Text.Json;

namespace Broker.Bench.Soak;

/// <summary>
/// The fields of a server frame the soak looks at, read the way a third-party client would
/// (plain JSON, no SDK). The soak's payload is <c>{"s":sequence,"t":stopwatchTicks}</c>.
/// </summary>
public readonly record struct SoakFrame(
    string Type, string? Id, string? Room, string? Epoch, long Offset, bool Recovered, string? Code,
    long Sequence, long SentAt)
{
    public static SoakFrame Parse(ReadOnlySpan<byte> record)
    {
        using var document = JsonDocument.Parse(record.ToArray());
        var root = document.RootElement;
        var type = root.TryGetProperty("type", out var t) ? t.GetString() ?? "" : "";
        var id = root.TryGetProperty("id", out var i) && i.ValueKind == JsonValueKind.String ? i.GetString() : null;
        string? room = null, epoch = null, code = null;
        long offset = 0, sequence = 0, sentAt = 0;
        var recovered = false;
        if (root.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Object)
        {
            room = Str(data, "room");
            epoch = Str(data, "epoch");
            code = Str(data, "code");
            if (data.TryGetProperty("offset", out var o) && o.ValueKind == JsonValueKind.Number) offset = o.GetInt64();
            recovered = data.TryGetProperty("recovered", out var r) && r.ValueKind == JsonValueKind.True;
            if (data.TryGetProperty("payload", out var p) && p.ValueKind == JsonValueKind.Object)
            {
                if (p.TryGetProperty("s", out var s) && s.ValueKind == JsonValueKind.Number) sequence = s.GetInt64();
                if (p.TryGetProperty("t", out var ts) && ts.ValueKind == JsonValueKind.Number) sentAt = ts.GetInt64();
            }
        }
        return new SoakFrame(type, id, room, epoch, offset, recovered, code, sequence, sentAt);
    }

    public static byte[] Join(string id, string room, string? sinceEpoch, long sinceOffset) => Encoding.UTF8.GetBytes(sinceEpoch is null
        ? $$$"""{"type":"join","id":"{{{id}}}","data":{"room":"{{{room}}}"}}"""
        : $$$"""{"type":"join","id":"{{{id}}}","data":{"room":"{{{room}}}","since":{"epoch":"{{{sinceEpoch}}}","offset":{{{sinceOffset}}}""" + "}}}");

    public static byte[] Publish(string id, string room, long sequence, long sentAt) => Encoding.UTF8.GetBytes(
        $$$"""{"type":"publish","id":"{{{id}}}","data":{"room":"{{{room}}}","excludeSelf":true,"payload":{"s":{{{sequence}}},"t":{{{sentAt}}}""" + "}}}");

    private static string? Str(JsonElement data, string name) =>
        data.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
