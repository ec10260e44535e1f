using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Broker.AspNetCore.Configuration;

namespace Broker.AspNetCore.Auth;

/// <summary>
/// Makes handshake tickets self-checking: a ticket is a random id and an HMAC-SHA256 tag over it,
/// under a key every node of the cluster shares, so a malformed or forged ticket is refused on
/// the node it reaches, before the cluster-wide ledger is asked (and before a ledger entry exists).
/// </summary>
public sealed class TicketCodec
{
    private const int IdBytes = 24;
    private const int TagBytes = 16;

    /// <summary>The length of every ticket, in base64url characters (40 bytes, unpadded).</summary>
    public const int TicketLength = 54;

    private static readonly byte[] Context = "broker:ticket-mac:v1"u8.ToArray();
    private readonly byte[] _key;

    /// <param name="key">The MAC key, at least 32 bytes; the same on every node that redeems another's tickets.</param>
    public TicketCodec(byte[] key)
    {
        if (key.Length < 32) throw new ArgumentException("a ticket key must be at least 32 bytes", nameof(key));
        _key = key;
    }

    /// <summary>
    /// The cluster's ticket key: <c>Broker:Auth:TicketKey</c> when set; else derived (HKDF-SHA256)
    /// from the HS256 signing key, which every node shares; else, on a node that forms its own
    /// cluster, a random key for this process. A node joining others without either cannot check
    /// their tickets, so it refuses to start.
    /// </summary>
    public static TicketCodec Create(BrokerOptions options, JwtKeys keys)
    {
        if (options.Auth.TicketKey is { Length: > 0 } secret) return new TicketCodec(Derive(Encoding.UTF8.GetBytes(secret)));
        if (keys.Hmac is { } hmac) return new TicketCodec(Derive(hmac.Key));
        if (!options.Cluster.Clustered) return new TicketCodec(RandomNumberGenerator.GetBytes(32));
        throw new InvalidOperationException(
            "Broker:Auth:TicketKey (or Broker:Jwt:SigningKey) is required when Broker:Cluster:SeedNodes or Broker:Cluster:Discovery is set: "
            + "tickets issued by one node must be checkable by every other.");
    }

    private static byte[] Derive(byte[] secret) => HKDF.DeriveKey(HashAlgorithmName.SHA256, secret, 32, salt: [], info: Context);

    /// <summary>A fresh ticket: base64url of a random id followed by its tag.</summary>
    public string NewTicket()
    {
        Span<byte> ticket = stackalloc byte[IdBytes + TagBytes];
        RandomNumberGenerator.Fill(ticket[..IdBytes]);
        Tag(ticket[..IdBytes], ticket[IdBytes..]);
        return Base64Url.EncodeToString(ticket);
    }

    /// <summary>
    /// True when <paramref name="ticket"/> has the exact form this codec issues (length, alphabet,
    /// canonical encoding) and its tag is right. Constant time in the tag comparison.
    /// </summary>
    public bool IsAuthentic(string ticket)
    {
        if (ticket.Length != TicketLength) return false;
        foreach (var c in ticket)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_')) return false;
        Span<byte> bytes = stackalloc byte[IdBytes + TagBytes + 2];
        if (!Base64Url.TryDecodeFromChars(ticket, bytes, out var written) || written != IdBytes + TagBytes) return false;
        bytes = bytes[..written];
        // One string per ticket: a variant spelling of the same bytes is not the ticket the ledger knows.
        Span<char> canonical = stackalloc char[TicketLength];
        if (!Base64Url.TryEncodeToChars(bytes, canonical, out var chars) || !canonical[..chars].SequenceEqual(ticket)) return false;
        Span<byte> expected = stackalloc byte[TagBytes];
        Tag(bytes[..IdBytes], expected);
        return CryptographicOperations.FixedTimeEquals(expected, bytes[IdBytes..]);
    }

    private void Tag(ReadOnlySpan<byte> id, Span<byte> tag)
    {
        Span<byte> full = stackalloc byte[32];
        HMACSHA256.HashData(_key, id, full);
        full[..TagBytes].CopyTo(tag);
    }
}
