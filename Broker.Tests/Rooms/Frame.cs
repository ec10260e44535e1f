using System.Text;
using System.Text.Json;

namespace Broker.Tests.Rooms;

/// <summary>Reads a server frame (UTF-8 JSON envelope) so tests can assert its exact fields.</summary>
internal static class Frame
{
    /// <summary>The envelope of <paramref name="utf8"/>, detached from its document.</summary>
    public static JsonElement Parse(byte[] utf8)
    {
        using var document = JsonDocument.Parse(utf8);
        return document.RootElement.Clone();
    }

    /// <summary>The envelope of <paramref name="json"/>, detached from its document.</summary>
    public static JsonElement Parse(string json) => Parse(Encoding.UTF8.GetBytes(json));

    public static string Type(this JsonElement frame) => frame.GetProperty("type").GetString()!;

    public static JsonElement Data(this JsonElement frame) => frame.GetProperty("data");

    /// <summary>The correlation id, or null when the frame has none.</summary>
    public static string? Id(this JsonElement frame) =>
        frame.TryGetProperty("id", out var id) ? id.GetString() : null;

    public static string Str(this JsonElement element, string property) => element.GetProperty(property).GetString()!;

    public static long Long(this JsonElement element, string property) => element.GetProperty(property).GetInt64();

    public static bool Bool(this JsonElement element, string property) => element.GetProperty(property).GetBoolean();

    public static string[] Strings(this JsonElement element, string property) =>
        element.GetProperty(property).EnumerateArray().Select(e => e.GetString()!).ToArray();

    /// <summary>UTF-8 bytes of a JSON literal, as rooms carry payloads.</summary>
    public static byte[] Json(string json) => Encoding.UTF8.GetBytes(json);
}
