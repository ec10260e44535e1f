using System.Buffers.Text;
using System.Text;

namespace Broker.AspNetCore.Embedding;

/// <summary>
/// The <c>next</c> cursor of a paged member list (<c>GET /api/rooms/{room}</c>, PROTOCOL §9.3): the
/// last user id of a page, base64url-encoded. Opaque to callers; stable because pages are ordered by
/// user id, so a cursor stays valid while users come and go (the next page starts after that id).
/// </summary>
public static class RoomMembersCursor
{
    /// <summary>The cursor that continues after <paramref name="lastUser"/>.</summary>
    public static string Encode(string lastUser) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(lastUser));

    /// <summary>The user id a cursor continues after; false when <paramref name="cursor"/> is not one this broker issued.</summary>
    public static bool TryDecode(string cursor, out string lastUser)
    {
        lastUser = "";
        if (cursor.Length is 0 or > 1024) return false;
        var bytes = new byte[Base64Url.GetMaxDecodedLength(cursor.Length)];
        // The status form: TryDecodeFromChars throws on characters outside the alphabet.
        if (Base64Url.DecodeFromChars(cursor, bytes, out _, out var written) != System.Buffers.OperationStatus.Done || written == 0) return false;
        try
        {
            lastUser = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(bytes, 0, written);
            return true;
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
    }
}
