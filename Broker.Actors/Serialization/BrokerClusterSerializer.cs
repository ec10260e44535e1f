using System.Buffers;
using System.Runtime.InteropServices;
using System.Text.Json;
using Akka.Actor;
using Akka.Hosting;
using Akka.Serialization;
using Broker.Actors.Rooms;
using Broker.Contracts.Cluster;
using static Broker.Contracts.Cluster.ConnectionCommands;
using static Broker.Contracts.Cluster.NodeReportEvents;
using static Broker.Contracts.Cluster.NodeReportQueries;
using static Broker.Contracts.Cluster.RoomCommands;
using static Broker.Contracts.Cluster.RoomEvents;
using static Broker.Contracts.Cluster.RouteCommands;
using static Broker.Contracts.Cluster.UserCommands;
using static Broker.Contracts.Cluster.UserEvents;
using static Broker.Contracts.Cluster.TicketCommands;
using static Broker.Contracts.Cluster.TicketEvents;

namespace Broker.Actors.Serialization;

/// <summary>
/// The wire format of every <see cref="IClusterMessage"/> between nodes: one compact JSON object
/// per message, written and read with Utf8JsonWriter/JsonDocument (no reflection), with a short
/// string manifest per type. Frames and payloads are already UTF-8 JSON, so they are embedded raw
/// (never base64, never re-escaped): a room broadcast costs its frame plus a few bytes. Actor
/// references travel as full actor paths. One table row per message type says all of it.
/// </summary>
public sealed class BrokerClusterSerializer : SerializerWithStringManifest
{
    /// <summary>The serializer's id on the wire; must never change once deployed.</summary>
    public const int SerializerId = 7301;

    // Manifests and property names are the wire format: never change or reuse one once deployed.
    private static readonly Entry[] Table =
    [
        Entry.Of<JoinRoom>("RJ", (w, m) =>
        {
            w.WriteString("r", m.RoomId); w.WriteString("c", m.ConnectionId); w.WriteString("u", m.UserId);
            WriteRef(w, "cr", m.Connection); WriteRef(w, "h", m.Hub);
            WriteOptional(w, "q", m.RequestId); WriteOptional(w, "e", m.SinceEpoch);
            if (m.SinceOffset is { } since) w.WriteNumber("o", since);
            WriteSeq(w, m.Seq);
        }, r => new JoinRoom(r.S("r"), r.S("c"), r.S("u"), r.Ref("cr"), r.Ref("h"), r.OS("q"), r.OS("e"), r.OptionalLong("o"), r.Seq())),
        Entry.Of<LeaveRoom>("RL", (w, m) =>
        {
            w.WriteString("r", m.RoomId); w.WriteString("c", m.ConnectionId); WriteOptional(w, "q", m.RequestId);
            w.WriteBoolean("y", m.Reply); WriteSeq(w, m.Seq);
        }, r => new LeaveRoom(r.S("r"), r.S("c"), r.OS("q"), r.Bool("y"), r.Seq())),
        Entry.Of<PublishToRoom>("RP", (w, m) =>
        {
            w.WriteString("r", m.RoomId); WriteOptional(w, "c", m.ConnectionId); w.WriteString("f", m.From);
            WriteRaw(w, "p", m.Payload); w.WriteBoolean("x", m.ExcludeSelf); WriteOptional(w, "q", m.RequestId);
            WriteSeq(w, m.Seq);
            WriteOptional(w, "ik", m.IdempotencyKey);
        }, r => new PublishToRoom(r.S("r"), r.OS("c"), r.S("f"), r.Raw("p"), r.Bool("x"), r.OS("q"), r.Seq(), r.OS("ik"))),
        Entry.Of<GetRoomInfo>("RG", (w, m) =>
        {
            w.WriteString("r", m.RoomId); w.WriteNumber("l", m.Limit); WriteOptional(w, "a", m.After);
        }, r => new GetRoomInfo(r.S("r"), (int)(r.OptionalLong("l") ?? GetRoomInfo.DefaultLimit), r.OS("a"))),
        Entry.Of<RoomBroadcast>("RB", (w, m) =>
        {
            w.WriteString("r", m.RoomId); WriteRaw(w, "fr", m.Frame); WriteOptional(w, "x", m.ExcludeConnectionId);
            w.WriteString("e", m.Epoch); w.WriteNumber("o", m.Offset);
        }, r => new RoomBroadcast(r.S("r"), r.Raw("fr"), r.OS("x"), r.S("e"), r.Long("o"))),
        Entry.Of<JoinResult>("RR", (w, m) =>
        {
            w.WriteString("r", m.RoomId); w.WriteString("c", m.ConnectionId); WriteSeq(w, m.Seq);
            w.WriteString("e", m.Epoch); w.WriteNumber("o", m.Offset); WriteFrames(w, "fs", m.Frames);
        }, r => new JoinResult(r.S("r"), r.S("c"), r.Seq(), r.S("e"), r.Long("o"), r.Frames("fs"))),
        Entry.Of<LeaveResult>("RT", (w, m) =>
        {
            w.WriteString("r", m.RoomId); w.WriteString("c", m.ConnectionId); WriteSeq(w, m.Seq);
        }, r => new LeaveResult(r.S("r"), r.S("c"), r.Seq())),
        Entry.Of<RejoinRoom>("RW", (w, m) =>
        {
            w.WriteString("r", m.RoomId); WriteRef(w, "h", m.Hub);
            w.WriteStartArray("ms");
            foreach (var member in m.Members)
            {
                w.WriteStartArray();
                w.WriteStringValue(member.ConnectionId);
                w.WriteStringValue(member.UserId);
                w.WriteEndArray();
            }
            w.WriteEndArray();
            WriteOptional(w, "e", m.SinceEpoch); w.WriteNumber("o", m.SinceOffset); w.WriteNumber("a", m.Attempt);
        }, r => new RejoinRoom(r.S("r"), r.Ref("h"),
            r.D.GetProperty("ms").EnumerateArray().Select(m => new RejoiningMember(m[0].GetString()!, m[1].GetString()!)).ToArray(),
            r.OS("e"), r.Long("o"), r.Long("a"))),
        Entry.Of<RejoinResult>("RV", (w, m) =>
        {
            w.WriteString("r", m.RoomId); w.WriteNumber("a", m.Attempt); w.WriteString("e", m.Epoch); w.WriteNumber("o", m.Offset);
            WriteOptionalStrings(w, "us", m.Users); WriteFrames(w, "fs", m.Frames); w.WriteBoolean("k", m.Continuous); w.WriteNumber("n", m.Count);
        }, r => new RejoinResult(r.S("r"), r.Long("a"), r.S("e"), r.Long("o"), r.OptionalStrings("us"), r.Frames("fs"), r.Bool("k"), r.Int("n"))),
        Entry.Of<FetchHistory>("RF", (w, m) =>
        {
            w.WriteString("r", m.RoomId); w.WriteString("e", m.Epoch); w.WriteNumber("o", m.AfterOffset); w.WriteNumber("u", m.UpToOffset);
        }, r => new FetchHistory(r.S("r"), r.S("e"), r.Long("o"), r.Long("u"))),
        Entry.Of<HistoryRange>("RH", (w, m) =>
        {
            w.WriteString("r", m.RoomId); w.WriteString("e", m.Epoch); w.WriteNumber("o", m.FirstOffset); w.WriteNumber("u", m.UpToOffset);
            WriteFrames(w, "fs", m.Frames); w.WriteBoolean("k", m.Complete); WriteOptionalStrings(w, "us", m.Users); w.WriteNumber("n", m.Count);
        }, r => new HistoryRange(r.S("r"), r.S("e"), r.Long("o"), r.Long("u"), r.Frames("fs"), r.Bool("k"), r.OptionalStrings("us"), r.Int("n"))),
        Entry.Of<PublishAccepted>("RA", (w, m) =>
        {
            w.WriteString("r", m.RoomId); WriteOptional(w, "q", m.RequestId); w.WriteNumber("o", m.Offset); w.WriteString("e", m.Epoch);
            WriteSeq(w, m.Seq);
        }, r => new PublishAccepted(r.S("r"), r.OS("q"), r.Long("o"), r.S("e"), r.Seq())),
        Entry.Of<PublishRejected>("RX", (w, m) =>
        {
            w.WriteString("r", m.RoomId); WriteOptional(w, "q", m.RequestId); w.WriteString("k", m.Code); w.WriteString("m", m.Message);
            WriteSeq(w, m.Seq);
        }, r => new PublishRejected(r.S("r"), r.OS("q"), r.S("k"), r.S("m"), r.Seq())),
        Entry.Of<JoinRejected>("RJX", (w, m) =>
        {
            w.WriteString("r", m.RoomId); w.WriteString("c", m.ConnectionId); WriteSeq(w, m.Seq); WriteOptional(w, "q", m.RequestId);
            w.WriteString("k", m.Code); w.WriteString("m", m.Message);
        }, r => new JoinRejected(r.S("r"), r.S("c"), r.Seq(), r.OS("q"), r.S("k"), r.S("m"))),
        Entry.Of<RoomUnavailable>("RU", (w, m) =>
        {
            w.WriteString("r", m.RoomId); w.WriteString("m", m.Message);
        }, r => new RoomUnavailable(r.S("r"), r.S("m"))),
        // A durable room's journal and snapshots (RoomJournalEvents.cs): stored, so as fixed as the wire.
        Entry.Of<RoomEpochStarted>("JE", (w, m) => w.WriteString("e", m.Epoch), r => new RoomEpochStarted(r.S("e"))),
        Entry.Of<RoomMessagePublished>("JM", (w, m) =>
        {
            w.WriteNumber("o", m.Offset); WriteRaw(w, "fr", m.Frame); w.WriteNumber("t", m.AtMs); WriteOptional(w, "ik", m.IdempotencyKey);
        }, r => new RoomMessagePublished(r.Long("o"), r.Raw("fr"), r.Long("t"), r.OS("ik"))),
        Entry.Of<RoomMessagesPublished>("JB", (w, m) =>
        {
            // [offset, frame, atMs, key or null] per message: the frame is written as the JSON it is.
            w.WriteStartArray("m");
            foreach (var message in m.Messages)
            {
                w.WriteStartArray();
                w.WriteNumberValue(message.Offset);
                w.WriteRawValue(message.Frame, skipInputValidation: true);
                w.WriteNumberValue(message.AtMs);
                if (message.IdempotencyKey is { } key) w.WriteStringValue(key);
                else w.WriteNullValue();
                w.WriteEndArray();
            }
            w.WriteEndArray();
        }, r => new RoomMessagesPublished(r.D.GetProperty("m").EnumerateArray()
            .Select(m => new RoomMessagePublished(m[0].GetInt64(), RawOf(m[1]), m[2].GetInt64(), m[3].GetString())).ToArray())),
        Entry.Of<RoomSnapshot>("JS", (w, m) =>
        {
            w.WriteString("e", m.Epoch); w.WriteNumber("o", m.Offset);
            w.WriteStartArray("h");
            foreach (var message in m.History)
            {
                w.WriteStartArray();
                w.WriteNumberValue(message.Offset);
                w.WriteRawValue(message.Frame, skipInputValidation: true);
                w.WriteNumberValue(message.AtMs);
                w.WriteEndArray();
            }
            w.WriteEndArray();
            w.WriteStartArray("ks");
            foreach (var key in m.Keys)
            {
                w.WriteStartArray();
                w.WriteStringValue(key.Key);
                w.WriteNumberValue(key.Offset);
                w.WriteNumberValue(key.AtMs);
                w.WriteEndArray();
            }
            w.WriteEndArray();
        }, r => new RoomSnapshot(r.S("e"), r.Long("o"),
            r.D.GetProperty("h").EnumerateArray().Select(h => new RoomSnapshotMessage(h[0].GetInt64(), RawOf(h[1]), h[2].GetInt64())).ToArray(),
            r.D.GetProperty("ks").EnumerateArray().Select(k => new RoomSnapshotKey(k[0].GetString()!, k[1].GetInt64(), k[2].GetInt64())).ToArray())),
        Entry.Of<RoomInfo>("RI", (w, m) =>
        {
            w.WriteString("r", m.RoomId); WriteStrings(w, "ms", m.Members); w.WriteNumber("o", m.Offset); w.WriteString("e", m.Epoch);
            w.WriteNumber("n", m.Count); WriteOptional(w, "nx", m.Next);
        }, r => new RoomInfo(r.S("r"), r.Strings("ms"), r.Long("o"), r.S("e"), r.Int("n"), r.OS("nx"))),
        Entry.Of<RegisterConnection>("UR", (w, m) =>
        {
            w.WriteString("u", m.UserId); w.WriteString("c", m.ConnectionId); WriteRef(w, "cr", m.Connection);
            if (m.Confirm) w.WriteBoolean("k", true);
            if (m.Limit > 0) w.WriteNumber("l", m.Limit);
        }, r => new RegisterConnection(r.S("u"), r.S("c"), r.Ref("cr"), r.Has("k"), (int)(r.OptionalLong("l") ?? 0))),
        Entry.Of<ConnectionRegistered>("UK", (w, m) =>
        {
            w.WriteString("u", m.UserId); w.WriteString("c", m.ConnectionId);
        }, r => new ConnectionRegistered(r.S("u"), r.S("c"))),
        Entry.Of<ConnectionRefused>("UN", (w, m) =>
        {
            w.WriteString("u", m.UserId); w.WriteString("c", m.ConnectionId); w.WriteNumber("l", m.Limit);
        }, r => new ConnectionRefused(r.S("u"), r.S("c"), r.Int("l"))),
        Entry.Of<UnregisterConnection>("UU", (w, m) =>
        {
            w.WriteString("u", m.UserId); w.WriteString("c", m.ConnectionId);
        }, r => new UnregisterConnection(r.S("u"), r.S("c"))),
        Entry.Of<UpdateRooms>("UM", (w, m) =>
        {
            w.WriteString("u", m.UserId); w.WriteString("c", m.ConnectionId); WriteStrings(w, "rs", m.Rooms);
        }, r => new UpdateRooms(r.S("u"), r.S("c"), r.Strings("rs"))),
        Entry.Of<SendToUser>("US", (w, m) =>
        {
            w.WriteString("u", m.UserId); w.WriteString("f", m.From); WriteRaw(w, "p", m.Payload); WriteOptional(w, "q", m.RequestId);
            WriteSeq(w, m.Seq);
        }, r => new SendToUser(r.S("u"), r.S("f"), r.Raw("p"), r.OS("q"), r.Seq())),
        Entry.Of<GetUserStatus>("UG", (w, m) => w.WriteString("u", m.UserId), r => new GetUserStatus(r.S("u"))),
        Entry.Of<DirectDelivered>("UD", (w, m) =>
        {
            WriteOptional(w, "q", m.RequestId); w.WriteNumber("n", m.Delivered); WriteSeq(w, m.Seq);
        }, r => new DirectDelivered(r.OS("q"), r.Int("n"), r.Seq())),
        Entry.Of<UserStatus>("UT", (w, m) =>
        {
            w.WriteString("u", m.UserId); w.WriteBoolean("on", m.Online); w.WriteNumber("n", m.Connections); WriteStrings(w, "rs", m.Rooms);
        }, r => new UserStatus(r.S("u"), r.Bool("on"), r.Int("n"), r.Strings("rs"))),
        Entry.Of<DisconnectUser>("UX", (w, m) =>
        {
            w.WriteString("u", m.UserId); w.WriteNumber("k", m.Code); w.WriteString("m", m.Reason);
        }, r => new DisconnectUser(r.S("u"), r.Int("k"), r.S("m"))),
        Entry.Of<UserDisconnected>("UY", (w, m) =>
        {
            w.WriteString("u", m.UserId); w.WriteNumber("n", m.Disconnected);
        }, r => new UserDisconnected(r.S("u"), r.Int("n"))),
        Entry.Of<GetUserConnections>("UC", (w, m) => w.WriteString("u", m.UserId), r => new GetUserConnections(r.S("u"))),
        Entry.Of<UserConnections>("UL", (w, m) =>
        {
            // [connection id, node, [rooms]] per connection.
            w.WriteString("u", m.UserId);
            w.WriteStartArray("cs");
            foreach (var connection in m.Connections)
            {
                w.WriteStartArray();
                w.WriteStringValue(connection.ConnectionId);
                w.WriteStringValue(connection.Node);
                w.WriteStartArray();
                foreach (var room in connection.Rooms) w.WriteStringValue(room);
                w.WriteEndArray();
                w.WriteEndArray();
            }
            w.WriteEndArray();
        }, r => new UserConnections(r.S("u"), r.D.GetProperty("cs").EnumerateArray()
            .Select(c => new UserConnection(c[0].GetString()!, c[1].GetString()!, c[2].EnumerateArray().Select(e => e.GetString()!).ToArray())).ToArray())),
        // The operator console's per-node report (NodeReportMessages.cs): asked once per member and poll.
        Entry.Of<GetNodeReport>("NG", (w, m) => w.WriteNumber("n", m.TopRooms), r => new GetNodeReport(r.Int("n"))),
        Entry.Of<NodeReport>("NR", (w, m) =>
        {
            w.WriteString("nd", m.Node); w.WriteNumber("c", m.Connections); w.WriteNumber("a", m.Authenticated);
            // [at ms, connections, publishes/s, deliveries/s] per sample.
            w.WriteStartArray("ss");
            foreach (var sample in m.Samples)
            {
                w.WriteStartArray();
                w.WriteNumberValue(sample.AtMs); w.WriteNumberValue(sample.Connections);
                w.WriteNumberValue(sample.PublishesPerSecond); w.WriteNumberValue(sample.DeliveriesPerSecond);
                w.WriteEndArray();
            }
            w.WriteEndArray();
            // [room, connections] per room.
            w.WriteStartArray("rs");
            foreach (var room in m.Rooms)
            {
                w.WriteStartArray();
                w.WriteStringValue(room.Room); w.WriteNumberValue(room.Connections);
                w.WriteEndArray();
            }
            w.WriteEndArray();
            w.WriteNumber("rn", m.RoomsWithMembers);
            // [code, reason, count] per kind of cut-off.
            w.WriteStartArray("cn");
            foreach (var count in m.CutOffCounts)
            {
                w.WriteStartArray();
                w.WriteNumberValue(count.Code); w.WriteStringValue(count.Reason); w.WriteNumberValue(count.Count);
                w.WriteEndArray();
            }
            w.WriteEndArray();
            // [at ms, connection id, user or null, route, code, reason] per cut-off.
            w.WriteStartArray("co");
            foreach (var cutOff in m.RecentCutOffs)
            {
                w.WriteStartArray();
                w.WriteNumberValue(cutOff.AtMs); w.WriteStringValue(cutOff.ConnectionId);
                if (cutOff.User is { } user) w.WriteStringValue(user);
                else w.WriteNullValue();
                w.WriteStringValue(cutOff.Route); w.WriteNumberValue(cutOff.Code); w.WriteStringValue(cutOff.Reason);
                w.WriteEndArray();
            }
            w.WriteEndArray();
        }, r => new NodeReport(r.S("nd"), r.Int("c"), r.Int("a"),
            r.D.GetProperty("ss").EnumerateArray().Select(s => new NodeSample(s[0].GetInt64(), s[1].GetInt32(), s[2].GetDouble(), s[3].GetDouble())).ToArray(),
            r.D.GetProperty("rs").EnumerateArray().Select(s => new RoomConnections(s[0].GetString()!, s[1].GetInt32())).ToArray(),
            r.Int("rn"),
            r.D.GetProperty("cn").EnumerateArray().Select(s => new CutOffCount(s[0].GetInt32(), s[1].GetString()!, s[2].GetInt64())).ToArray(),
            r.D.GetProperty("co").EnumerateArray()
                .Select(s => new CutOff(s[0].GetInt64(), s[1].GetString()!, s[2].GetString(), s[3].GetString()!, s[4].GetInt32(), s[5].GetString()!)).ToArray())),
        // The fan-out stamp is node-local: a delivery from another node is not timed.
        Entry.Of<Deliver>("CD", (w, m) => WriteRaw(w, "fr", m.Frame), r => new Deliver(r.Raw("fr"))),
        Entry.Of<CloseConnection>("CC", (w, m) =>
        {
            w.WriteNumber("k", m.Code); w.WriteString("m", m.Reason);
        }, r => new CloseConnection(r.Int("k"), r.S("m"))),
        Entry.Of<StoreTicket>("TS", (w, m) =>
        {
            w.WriteString("t", m.TicketId); w.WriteString("u", m.UserId); w.WriteNumber("ce", m.CredentialExpiresAtMs);
            w.WriteString("ip", m.ClientIp); w.WriteNumber("te", m.TicketExpiresAtMs);
        }, r => new StoreTicket(r.S("t"), r.S("u"), r.Long("ce"), r.S("ip"), r.Long("te"))),
        Entry.Of<RedeemTicket>("TR", (w, m) =>
        {
            w.WriteString("t", m.TicketId); w.WriteString("ip", m.ClientIp);
        }, r => new RedeemTicket(r.S("t"), r.S("ip"))),
        Entry.Of<TicketStored>("TK", (w, m) => w.WriteString("t", m.TicketId), r => new TicketStored(r.S("t"))),
        Entry.Of<TicketRedeemed>("TD", (w, m) =>
        {
            w.WriteString("t", m.TicketId); WriteOptional(w, "u", m.UserId); w.WriteNumber("ce", m.CredentialExpiresAtMs);
            w.WriteNumber("te", m.TicketExpiresAtMs);
        }, r => new TicketRedeemed(r.S("t"), r.OS("u"), r.Long("ce"), r.Long("te"))),
        Entry.Of<DeliverToRoute>("KD", (w, m) =>
        {
            w.WriteString("k", m.Route); w.WriteString("f", m.From); WriteRaw(w, "p", m.Payload);
        }, r => new DeliverToRoute(r.S("k"), r.S("f"), r.Raw("p"))),
    ];

    private static readonly Dictionary<Type, Entry> ByType = Table.ToDictionary(e => e.Type);
    private static readonly Dictionary<string, Entry> ByManifest = Table.ToDictionary(e => e.Manifest, StringComparer.Ordinal);

    public BrokerClusterSerializer(ExtendedActorSystem system) : base(system) { }

    /// <summary>Every message type the table serializes.</summary>
    public static IReadOnlyCollection<Type> MessageTypes => ByType.Keys;

    public override int Identifier => SerializerId;

    public override string Manifest(object o) => EntryFor(o).Manifest;

    public override byte[] ToBinary(object obj)
    {
        var entry = EntryFor(obj);
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = true }))
        {
            w.WriteStartObject();
            entry.Write(w, obj);
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    public override object FromBinary(byte[] bytes, string manifest)
    {
        if (!ByManifest.TryGetValue(manifest, out var entry))
            throw new System.Runtime.Serialization.SerializationException($"unknown broker manifest '{manifest}'");
        using var document = JsonDocument.Parse(bytes);
        return entry.Read(new Reader(document.RootElement, system));
    }

    private static Entry EntryFor(object o) =>
        ByType.TryGetValue(o.GetType(), out var entry) ? entry : throw new ArgumentException($"{o.GetType()} is not a broker cluster message", nameof(o));

    /// <summary>One message type: its manifest, how its fields are written, and how it is read back.</summary>
    private sealed record Entry(Type Type, string Manifest, Action<Utf8JsonWriter, object> Write, Func<Reader, object> Read)
    {
        public static Entry Of<T>(string manifest, Action<Utf8JsonWriter, T> write, Func<Reader, T> read) where T : class =>
            new(typeof(T), manifest, (w, o) => write(w, (T)o), r => read(r));
    }

    /// <summary>The fields of one message being read: the document's root and the system that resolves actor paths.</summary>
    private readonly record struct Reader(JsonElement D, ExtendedActorSystem System)
    {
        public string S(string name) => D.GetProperty(name).GetString()!;
        public string? OS(string name) => D.TryGetProperty(name, out var v) ? v.GetString() : null;
        public long Long(string name) => D.GetProperty(name).GetInt64();
        public long? OptionalLong(string name) => D.TryGetProperty(name, out var v) ? v.GetInt64() : null;
        public int Int(string name) => D.GetProperty(name).GetInt32();
        public bool Bool(string name) => D.GetProperty(name).GetBoolean();
        public bool Has(string name) => D.TryGetProperty(name, out _);
        /// <summary>A hub's command number; absent is 0.</summary>
        public long Seq() => OptionalLong("s") ?? 0;
        public string[] Strings(string name) => D.GetProperty(name).EnumerateArray().Select(e => e.GetString()!).ToArray();
        public string[]? OptionalStrings(string name) => D.TryGetProperty(name, out _) ? Strings(name) : null;
        public byte[] Raw(string name) => RawOf(D.GetProperty(name));
        public byte[][] Frames(string name) => D.GetProperty(name).EnumerateArray().Select(RawOf).ToArray();
        public IActorRef Ref(string name) => System.Provider.ResolveActorRef(S(name));
    }

    private static byte[] RawOf(JsonElement element) => JsonMarshal.GetRawUtf8Value(element).ToArray();

    private static void WriteOptional(Utf8JsonWriter w, string name, string? value)
    {
        if (value is not null) w.WriteString(name, value);
    }

    private static void WriteRaw(Utf8JsonWriter w, string name, byte[] json)
    {
        w.WritePropertyName(name);
        w.WriteRawValue(json, skipInputValidation: true);
    }

    /// <summary>A hub's command number; 0 (none) is left out.</summary>
    private static void WriteSeq(Utf8JsonWriter w, long seq)
    {
        if (seq != 0) w.WriteNumber("s", seq);
    }

    private static void WriteFrames(Utf8JsonWriter w, string name, byte[][] frames)
    {
        w.WriteStartArray(name);
        foreach (var frame in frames) w.WriteRawValue(frame, skipInputValidation: true);
        w.WriteEndArray();
    }

    private static void WriteStrings(Utf8JsonWriter w, string name, string[] values)
    {
        w.WriteStartArray(name);
        foreach (var value in values) w.WriteStringValue(value);
        w.WriteEndArray();
    }

    /// <summary>An array that may be absent (null: left out).</summary>
    private static void WriteOptionalStrings(Utf8JsonWriter w, string name, string[]? values)
    {
        if (values is not null) WriteStrings(w, name, values);
    }

    private static void WriteRef(Utf8JsonWriter w, string name, IActorRef actor) =>
        w.WriteString(name, Akka.Serialization.Serialization.SerializedActorPath(actor));
}

/// <summary>Registers <see cref="BrokerClusterSerializer"/> with Akka.Hosting.</summary>
public static class BrokerSerializerHostingExtensions
{
    /// <summary>
    /// Every <see cref="IClusterMessage"/> and every durable room's journal event and snapshot
    /// (<see cref="Rooms.IRoomJournalEvent"/>) goes through the broker's serializer; none falls back to Akka's default.
    /// </summary>
    public static AkkaConfigurationBuilder AddBrokerSerializer(this AkkaConfigurationBuilder builder) =>
        builder.WithCustomSerializer("broker", [typeof(IClusterMessage), typeof(Rooms.IRoomJournalEvent)], system => new BrokerClusterSerializer(system));
}
