using System.Buffers;
using System.Runtime.InteropServices;
using System.Text.Json;
using Akka.Actor;
using Akka.Serialization;
using Broker.Contracts.Cluster;
using static Broker.Contracts.Cluster.RoomCommands;
using static Broker.Contracts.Cluster.RoomEvents;
using static Broker.Contracts.Cluster.UserCommands;
using static Broker.Contracts.Cluster.UserEvents;
using static Broker.Contracts.Cluster.TicketCommands;
using static Broker.Contracts.Cluster.TicketEvents;

namespace Broker.Actors.Serialization;

/// <summary>
/// The wire format of every <see cref="Contracts.Cluster.IClusterMessage"/> between nodes: one
/// compact JSON object per message, written and read with Utf8JsonWriter/JsonDocument (no
/// reflection), with a short string manifest per type. Frames and payloads are already UTF-8
/// JSON, so they are embedded raw (never base64, never re-escaped): a room broadcast costs its
/// frame plus a few bytes. Actor references travel as full actor paths.
/// </summary>
public sealed class BrokerClusterSerializer : SerializerWithStringManifest
{
    /// <summary>Registered in hocon/broker.hocon; must never change once deployed.</summary>
    public const int SerializerId = 7301;

    private const string JoinRoomManifest = "RJ";
    private const string LeaveRoomManifest = "RL";
    private const string PublishToRoomManifest = "RP";
    private const string GetRoomInfoManifest = "RG";
    private const string RoomBroadcastManifest = "RB";
    private const string JoinResultManifest = "RR";
    private const string PublishAcceptedManifest = "RA";
    private const string PublishRejectedManifest = "RX";
    private const string RoomInfoManifest = "RI";
    private const string RegisterConnectionManifest = "UR";
    private const string UnregisterConnectionManifest = "UU";
    private const string UpdateRoomsManifest = "UM";
    private const string SendToUserManifest = "US";
    private const string GetUserStatusManifest = "UG";
    private const string DirectDeliveredManifest = "UD";
    private const string UserStatusManifest = "UT";
    private const string DisconnectUserManifest = "UX";
    private const string UserDisconnectedManifest = "UY";
    private const string DeliverManifest = "CD";
    private const string CloseConnectionManifest = "CC";
    private const string StoreTicketManifest = "TS";
    private const string RedeemTicketManifest = "TR";
    private const string TicketStoredManifest = "TK";
    private const string TicketRedeemedManifest = "TD";
    private const string DeliverToRouteManifest = "KD";
    private const string LeaveResultManifest = "RT";
    private const string ConnectionRegisteredManifest = "UK";
    private const string RejoinRoomManifest = "RW";
    private const string RejoinResultManifest = "RV";
    private const string FetchHistoryManifest = "RF";
    private const string HistoryRangeManifest = "RH";
    private const string ConnectionRefusedManifest = "UN";

    public BrokerClusterSerializer(ExtendedActorSystem system) : base(system) { }

    public override int Identifier => SerializerId;

    public override string Manifest(object o) => o switch
    {
        JoinRoom => JoinRoomManifest,
        LeaveRoom => LeaveRoomManifest,
        PublishToRoom => PublishToRoomManifest,
        GetRoomInfo => GetRoomInfoManifest,
        RoomBroadcast => RoomBroadcastManifest,
        JoinResult => JoinResultManifest,
        PublishAccepted => PublishAcceptedManifest,
        PublishRejected => PublishRejectedManifest,
        RoomInfo => RoomInfoManifest,
        LeaveResult => LeaveResultManifest,
        ConnectionRegistered => ConnectionRegisteredManifest,
        ConnectionRefused => ConnectionRefusedManifest,
        RejoinRoom => RejoinRoomManifest,
        RejoinResult => RejoinResultManifest,
        FetchHistory => FetchHistoryManifest,
        HistoryRange => HistoryRangeManifest,
        RegisterConnection => RegisterConnectionManifest,
        UnregisterConnection => UnregisterConnectionManifest,
        UpdateRooms => UpdateRoomsManifest,
        SendToUser => SendToUserManifest,
        GetUserStatus => GetUserStatusManifest,
        DirectDelivered => DirectDeliveredManifest,
        UserStatus => UserStatusManifest,
        DisconnectUser => DisconnectUserManifest,
        UserDisconnected => UserDisconnectedManifest,
        ConnectionCommands.Deliver => DeliverManifest,
        ConnectionCommands.CloseConnection => CloseConnectionManifest,
        StoreTicket => StoreTicketManifest,
        RedeemTicket => RedeemTicketManifest,
        TicketStored => TicketStoredManifest,
        TicketRedeemed => TicketRedeemedManifest,
        Contracts.Cluster.RouteCommands.DeliverToRoute => DeliverToRouteManifest,
        _ => throw new ArgumentException($"{o.GetType()} is not a broker cluster message", nameof(o)),
    };

    public override byte[] ToBinary(object obj)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = true }))
        {
            w.WriteStartObject();
            switch (obj)
            {
                case JoinRoom m:
                    w.WriteString("r", m.RoomId); w.WriteString("c", m.ConnectionId); w.WriteString("u", m.UserId);
                    WriteRef(w, "cr", m.Connection); WriteRef(w, "h", m.Hub);
                    WriteOptional(w, "q", m.RequestId); WriteOptional(w, "e", m.SinceEpoch);
                    if (m.SinceOffset is { } since) w.WriteNumber("o", since);
                    WriteSeq(w, m.Seq);
                    break;
                case LeaveRoom m:
                    w.WriteString("r", m.RoomId); w.WriteString("c", m.ConnectionId); WriteOptional(w, "q", m.RequestId);
                    w.WriteBoolean("y", m.Reply); WriteSeq(w, m.Seq);
                    break;
                case PublishToRoom m:
                    w.WriteString("r", m.RoomId); WriteOptional(w, "c", m.ConnectionId); w.WriteString("f", m.From);
                    WriteRaw(w, "p", m.Payload); w.WriteBoolean("x", m.ExcludeSelf); WriteOptional(w, "q", m.RequestId);
                    WriteSeq(w, m.Seq);
                    break;
                case GetRoomInfo m:
                    w.WriteString("r", m.RoomId);
                    break;
                case RoomBroadcast m:
                    w.WriteString("r", m.RoomId); WriteRaw(w, "fr", m.Frame); WriteOptional(w, "x", m.ExcludeConnectionId);
                    w.WriteString("e", m.Epoch); w.WriteNumber("o", m.Offset);
                    break;
                case JoinResult m:
                    w.WriteString("r", m.RoomId); w.WriteString("c", m.ConnectionId); WriteSeq(w, m.Seq);
                    w.WriteString("e", m.Epoch); w.WriteNumber("o", m.Offset); WriteFrames(w, "fs", m.Frames);
                    break;
                case LeaveResult m:
                    w.WriteString("r", m.RoomId); w.WriteString("c", m.ConnectionId); WriteSeq(w, m.Seq);
                    break;
                case RejoinRoom m:
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
                    break;
                case RejoinResult m:
                    w.WriteString("r", m.RoomId); w.WriteNumber("a", m.Attempt); w.WriteString("e", m.Epoch); w.WriteNumber("o", m.Offset);
                    WriteStrings(w, "us", m.Users); WriteFrames(w, "fs", m.Frames); w.WriteBoolean("k", m.Continuous);
                    break;
                case FetchHistory m:
                    w.WriteString("r", m.RoomId); w.WriteString("e", m.Epoch); w.WriteNumber("o", m.AfterOffset); w.WriteNumber("u", m.UpToOffset);
                    break;
                case HistoryRange m:
                    w.WriteString("r", m.RoomId); w.WriteString("e", m.Epoch); w.WriteNumber("o", m.FirstOffset); w.WriteNumber("u", m.UpToOffset);
                    WriteFrames(w, "fs", m.Frames); w.WriteBoolean("k", m.Complete); WriteStrings(w, "us", m.Users);
                    break;
                case PublishAccepted m:
                    w.WriteString("r", m.RoomId); WriteOptional(w, "q", m.RequestId); w.WriteNumber("o", m.Offset); w.WriteString("e", m.Epoch);
                    WriteSeq(w, m.Seq);
                    break;
                case PublishRejected m:
                    w.WriteString("r", m.RoomId); WriteOptional(w, "q", m.RequestId); w.WriteString("k", m.Code); w.WriteString("m", m.Message);
                    WriteSeq(w, m.Seq);
                    break;
                case RoomInfo m:
                    w.WriteString("r", m.RoomId); WriteStrings(w, "ms", m.Members); w.WriteNumber("o", m.Offset); w.WriteString("e", m.Epoch);
                    break;
                case RegisterConnection m:
                    w.WriteString("u", m.UserId); w.WriteString("c", m.ConnectionId); WriteRef(w, "cr", m.Connection);
                    if (m.Confirm) w.WriteBoolean("k", true);
                    if (m.Limit > 0) w.WriteNumber("l", m.Limit);
                    break;
                case ConnectionRegistered m:
                    w.WriteString("u", m.UserId); w.WriteString("c", m.ConnectionId);
                    break;
                case ConnectionRefused m:
                    w.WriteString("u", m.UserId); w.WriteString("c", m.ConnectionId); w.WriteNumber("l", m.Limit);
                    break;
                case UnregisterConnection m:
                    w.WriteString("u", m.UserId); w.WriteString("c", m.ConnectionId);
                    break;
                case UpdateRooms m:
                    w.WriteString("u", m.UserId); w.WriteString("c", m.ConnectionId); WriteStrings(w, "rs", m.Rooms);
                    break;
                case SendToUser m:
                    w.WriteString("u", m.UserId); w.WriteString("f", m.From); WriteRaw(w, "p", m.Payload); WriteOptional(w, "q", m.RequestId);
                    WriteSeq(w, m.Seq);
                    break;
                case GetUserStatus m:
                    w.WriteString("u", m.UserId);
                    break;
                case DirectDelivered m:
                    WriteOptional(w, "q", m.RequestId); w.WriteNumber("n", m.Delivered); WriteSeq(w, m.Seq);
                    break;
                case UserStatus m:
                    w.WriteString("u", m.UserId); w.WriteBoolean("on", m.Online); w.WriteNumber("n", m.Connections); WriteStrings(w, "rs", m.Rooms);
                    break;
                case DisconnectUser m:
                    w.WriteString("u", m.UserId); w.WriteNumber("k", m.Code); w.WriteString("m", m.Reason);
                    break;
                case UserDisconnected m:
                    w.WriteString("u", m.UserId); w.WriteNumber("n", m.Disconnected);
                    break;
                case ConnectionCommands.Deliver m:
                    WriteRaw(w, "fr", m.Frame);
                    break;
                case ConnectionCommands.CloseConnection m:
                    w.WriteNumber("k", m.Code); w.WriteString("m", m.Reason);
                    break;
                case StoreTicket m:
                    w.WriteString("t", m.TicketId); w.WriteString("u", m.UserId); w.WriteNumber("ce", m.CredentialExpiresAtMs);
                    w.WriteString("ip", m.ClientIp); w.WriteNumber("te", m.TicketExpiresAtMs);
                    break;
                case RedeemTicket m:
                    w.WriteString("t", m.TicketId); w.WriteString("ip", m.ClientIp);
                    break;
                case TicketStored m:
                    w.WriteString("t", m.TicketId);
                    break;
                case TicketRedeemed m:
                    w.WriteString("t", m.TicketId); WriteOptional(w, "u", m.UserId); w.WriteNumber("ce", m.CredentialExpiresAtMs);
                    w.WriteNumber("te", m.TicketExpiresAtMs);
                    break;
                case Contracts.Cluster.RouteCommands.DeliverToRoute m:
                    w.WriteString("k", m.Route); w.WriteString("f", m.From); WriteRaw(w, "p", m.Payload);
                    break;
                default:
                    throw new ArgumentException($"{obj.GetType()} is not a broker cluster message", nameof(obj));
            }
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    public override object FromBinary(byte[] bytes, string manifest)
    {
        using var document = JsonDocument.Parse(bytes);
        var d = document.RootElement;
        return manifest switch
        {
            JoinRoomManifest => new JoinRoom(S(d, "r"), S(d, "c"), S(d, "u"), Ref(d, "cr"), Ref(d, "h"), OS(d, "q"), OS(d, "e"),
                d.TryGetProperty("o", out var o) ? o.GetInt64() : null, Seq(d)),
            LeaveRoomManifest => new LeaveRoom(S(d, "r"), S(d, "c"), OS(d, "q"), d.GetProperty("y").GetBoolean(), Seq(d)),
            PublishToRoomManifest => new PublishToRoom(S(d, "r"), OS(d, "c"), S(d, "f"), Raw(d, "p"), d.GetProperty("x").GetBoolean(), OS(d, "q"), Seq(d)),
            GetRoomInfoManifest => new GetRoomInfo(S(d, "r")),
            RoomBroadcastManifest => new RoomBroadcast(S(d, "r"), Raw(d, "fr"), OS(d, "x"), S(d, "e"), d.GetProperty("o").GetInt64()),
            JoinResultManifest => new JoinResult(S(d, "r"), S(d, "c"), Seq(d), S(d, "e"), d.GetProperty("o").GetInt64(), Frames(d, "fs")),
            LeaveResultManifest => new LeaveResult(S(d, "r"), S(d, "c"), Seq(d)),
            RejoinRoomManifest => new RejoinRoom(S(d, "r"), Ref(d, "h"),
                d.GetProperty("ms").EnumerateArray().Select(m => new Contracts.Cluster.RejoiningMember(m[0].GetString()!, m[1].GetString()!)).ToArray(),
                OS(d, "e"), d.GetProperty("o").GetInt64(), d.GetProperty("a").GetInt64()),
            RejoinResultManifest => new RejoinResult(S(d, "r"), d.GetProperty("a").GetInt64(), S(d, "e"), d.GetProperty("o").GetInt64(),
                Strings(d, "us"), Frames(d, "fs"), d.GetProperty("k").GetBoolean()),
            FetchHistoryManifest => new FetchHistory(S(d, "r"), S(d, "e"), d.GetProperty("o").GetInt64(), d.GetProperty("u").GetInt64()),
            HistoryRangeManifest => new HistoryRange(S(d, "r"), S(d, "e"), d.GetProperty("o").GetInt64(), d.GetProperty("u").GetInt64(),
                Frames(d, "fs"), d.GetProperty("k").GetBoolean(), Strings(d, "us")),
            PublishAcceptedManifest => new PublishAccepted(S(d, "r"), OS(d, "q"), d.GetProperty("o").GetInt64(), S(d, "e"), Seq(d)),
            PublishRejectedManifest => new PublishRejected(S(d, "r"), OS(d, "q"), S(d, "k"), S(d, "m"), Seq(d)),
            RoomInfoManifest => new RoomInfo(S(d, "r"), Strings(d, "ms"), d.GetProperty("o").GetInt64(), S(d, "e")),
            RegisterConnectionManifest => new RegisterConnection(S(d, "u"), S(d, "c"), Ref(d, "cr"), d.TryGetProperty("k", out _),
                d.TryGetProperty("l", out var limit) ? limit.GetInt32() : 0),
            ConnectionRegisteredManifest => new ConnectionRegistered(S(d, "u"), S(d, "c")),
            ConnectionRefusedManifest => new ConnectionRefused(S(d, "u"), S(d, "c"), d.GetProperty("l").GetInt32()),
            UnregisterConnectionManifest => new UnregisterConnection(S(d, "u"), S(d, "c")),
            UpdateRoomsManifest => new UpdateRooms(S(d, "u"), S(d, "c"), Strings(d, "rs")),
            SendToUserManifest => new SendToUser(S(d, "u"), S(d, "f"), Raw(d, "p"), OS(d, "q"), Seq(d)),
            GetUserStatusManifest => new GetUserStatus(S(d, "u")),
            DirectDeliveredManifest => new DirectDelivered(OS(d, "q"), d.GetProperty("n").GetInt32(), Seq(d)),
            UserStatusManifest => new UserStatus(S(d, "u"), d.GetProperty("on").GetBoolean(), d.GetProperty("n").GetInt32(), Strings(d, "rs")),
            DisconnectUserManifest => new DisconnectUser(S(d, "u"), d.GetProperty("k").GetInt32(), S(d, "m")),
            UserDisconnectedManifest => new UserDisconnected(S(d, "u"), d.GetProperty("n").GetInt32()),
            DeliverManifest => new ConnectionCommands.Deliver(Raw(d, "fr")),
            CloseConnectionManifest => new ConnectionCommands.CloseConnection(d.GetProperty("k").GetInt32(), S(d, "m")),
            StoreTicketManifest => new StoreTicket(S(d, "t"), S(d, "u"), d.GetProperty("ce").GetInt64(), S(d, "ip"), d.GetProperty("te").GetInt64()),
            RedeemTicketManifest => new RedeemTicket(S(d, "t"), S(d, "ip")),
            TicketStoredManifest => new TicketStored(S(d, "t")),
            TicketRedeemedManifest => new TicketRedeemed(S(d, "t"), OS(d, "u"), d.GetProperty("ce").GetInt64(), d.GetProperty("te").GetInt64()),
            DeliverToRouteManifest => new Contracts.Cluster.RouteCommands.DeliverToRoute(S(d, "k"), S(d, "f"), Raw(d, "p")),
            _ => throw new System.Runtime.Serialization.SerializationException($"unknown broker manifest '{manifest}'"),
        };
    }

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

    private static long Seq(JsonElement d) => d.TryGetProperty("s", out var s) ? s.GetInt64() : 0;

    private static void WriteFrames(Utf8JsonWriter w, string name, byte[][] frames)
    {
        w.WriteStartArray(name);
        foreach (var frame in frames) w.WriteRawValue(frame, skipInputValidation: true);
        w.WriteEndArray();
    }

    private static byte[][] Frames(JsonElement d, string name) => d.GetProperty(name).EnumerateArray().Select(RawOf).ToArray();

    private static void WriteStrings(Utf8JsonWriter w, string name, string[] values)
    {
        w.WriteStartArray(name);
        foreach (var value in values) w.WriteStringValue(value);
        w.WriteEndArray();
    }

    private static void WriteRef(Utf8JsonWriter w, string name, IActorRef actor) =>
        w.WriteString(name, Akka.Serialization.Serialization.SerializedActorPath(actor));

    private static string S(JsonElement d, string name) => d.GetProperty(name).GetString()!;

    private static string? OS(JsonElement d, string name) => d.TryGetProperty(name, out var v) ? v.GetString() : null;

    private static string[] Strings(JsonElement d, string name) =>
        d.GetProperty(name).EnumerateArray().Select(e => e.GetString()!).ToArray();

    private static byte[] Raw(JsonElement d, string name) => RawOf(d.GetProperty(name));

    private static byte[] RawOf(JsonElement element) => JsonMarshal.GetRawUtf8Value(element).ToArray();

    private IActorRef Ref(JsonElement d, string name) => system.Provider.ResolveActorRef(S(d, name));
}
