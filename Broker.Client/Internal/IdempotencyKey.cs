using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text.Json;

namespace Broker.Client.Internal;

/// <summary>
/// The <c>idempotencyKey</c> of one publish (PROTOCOL §9.2): the caller's, or 16 random bytes
/// written as 22 base64url characters. Made once per publish call and written into every attempt's
/// frame, so a retry carries the same key; a generated one costs no allocation.
/// </summary>
internal readonly struct IdempotencyKey
{
    /// <summary>PROTOCOL §9.2: a key is 1–64 characters.</summary>
    public const int MaxLength = 64;

    private const int RandomBytes = 16; // 22 base64url characters

    private readonly string? _given;
    private readonly Guid _random;

    private IdempotencyKey(string? given, Guid random)
    {
        _given = given;
        _random = random;
    }

    /// <summary><paramref name="given"/> after checking its length, or a fresh random key when it is null.</summary>
    /// <exception cref="ArgumentException"><paramref name="given"/> is empty or longer than 64 characters.</exception>
    public static IdempotencyKey From(string? given)
    {
        if (given is null) return new IdempotencyKey(null, NewRandom());
        if (given.Length is 0 or > MaxLength)
            throw new ArgumentException($"An idempotency key is 1–{MaxLength} characters; this one has {given.Length}.", "idempotencyKey");
        return new IdempotencyKey(given, default);
    }

    /// <summary>A fresh key as a string, for a caller that retries a publish itself.</summary>
    public static string NewString()
    {
        Span<byte> bytes = stackalloc byte[RandomBytes];
        RandomNumberGenerator.Fill(bytes);
        return Base64Url.EncodeToString(bytes);
    }

    public void WriteTo(Utf8JsonWriter json)
    {
        if (_given is not null)
        {
            json.WriteString("idempotencyKey"u8, _given);
            return;
        }
        Span<byte> bytes = stackalloc byte[RandomBytes];
        _random.TryWriteBytes(bytes);
        Span<byte> utf8 = stackalloc byte[Base64Url.GetEncodedLength(RandomBytes)];
        var length = Base64Url.EncodeToUtf8(bytes, utf8);
        json.WriteString("idempotencyKey"u8, utf8[..length]);
    }

    private static Guid NewRandom()
    {
        // All 128 bits random (Guid.NewGuid fixes 6 of them), from the OS's CSPRNG.
        Span<byte> bytes = stackalloc byte[RandomBytes];
        RandomNumberGenerator.Fill(bytes);
        return new Guid(bytes);
    }
}
