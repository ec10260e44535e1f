using System.Buffers;
using System.Text.Json;
using Broker.Contracts.Protocol;
using Microsoft.Extensions.Primitives;

namespace Broker.AspNetCore.Sse;

/// <summary>
/// <c>GET /sse/{route}?rooms=a,b</c>: rooms joined when the stream starts, for a plain
/// <c>EventSource</c> that cannot POST (PROTOCOL §9.4). Each becomes a <c>join</c> envelope the
/// session handles first, under every rule a client's own join meets; a refused room gets its
/// <c>error</c> event and the others still join.
/// </summary>
public static class SseInitialRooms
{
    /// <summary>The room names of every <c>rooms</c> parameter, comma-separated, empty entries dropped; null when over <paramref name="max"/>.</summary>
    public static List<string>? Parse(StringValues values, int max)
    {
        var rooms = new List<string>();
        foreach (var value in values)
        {
            if (string.IsNullOrEmpty(value)) continue;
            foreach (var room in value.Split(',', StringSplitOptions.RemoveEmptyEntries))
            {
                if (rooms.Count == max) return null;
                rooms.Add(room);
            }
        }
        return rooms;
    }

    /// <summary>
    /// The <c>join</c> for the room at <paramref name="index"/>. Its id names the room, so the
    /// <c>joined</c> or <c>error</c> that answers it says which one (ids are at most 64 characters:
    /// a longer name is named by its position, <c>rooms:&lt;n&gt;</c>).
    /// </summary>
    public static byte[] JoinEnvelope(string room, int index)
    {
        var buffer = new ArrayBufferWriter<byte>(64 + room.Length);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("type"u8, FrameTypes.Join);
            json.WriteString("id"u8, room.Length <= FrameParser.MaxIdLength ? room : $"rooms:{index}");
            json.WriteStartObject("data"u8);
            json.WriteString("room"u8, room);
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }
}
