using System.Net.WebSockets;
using System.Text.Json;
using Broker.Client.Internal;
using Broker.Client.Protocol;

namespace Broker.Client;

// The receive loop: one per connection, dispatching frames to requests, the recovery tracker and events.
public sealed partial class BrokerClient
{
    private static readonly TimeSpan CloseReplyTimeout = TimeSpan.FromSeconds(1);

    private async Task<CloseInfo> ReceiveLoopAsync(BrokerConnection connection)
    {
        try
        {
            while (true)
            {
                var (frame, type) = await connection.ReceiveAsync().ConfigureAwait(false);
                if (type == WebSocketMessageType.Close)
                {
                    var socket = connection.Socket;
                    var info = new CloseInfo(socket.CloseStatus is { } status ? (int)status : (int)WebSocketCloseStatus.Empty, socket.CloseStatusDescription);
                    // Complete the close handshake so the server can release the socket.
                    await connection.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CloseReplyTimeout).ConfigureAwait(false);
                    return info;
                }
                if (type != WebSocketMessageType.Text) continue;
                ValueTask dispatch;
                try
                {
                    dispatch = Dispatch(connection, frame);
                }
                catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
                {
                    // A frame of an unexpected shape: report it, keep the connection.
                    RaiseError(e);
                    continue;
                }
                if (!dispatch.IsCompletedSuccessfully) await dispatch.ConfigureAwait(false);
            }
        }
        catch (FrameTooBigException)
        {
            connection.Abort(Close.TooBig.Code, Close.TooBig.Reason);
            return connection.Failure(null);
        }
        catch (Exception e)
        {
            return connection.Failure(e);
        }
    }

    private ValueTask Dispatch(BrokerConnection connection, ReadOnlyMemory<byte> frame)
    {
        if (!InboundFrame.TryReadEnvelope(frame.Span, out var type, out var id, out var dataStart, out var dataLength))
            return default; // unknown frame types are ignored: newer servers may add some
        var data = frame.Slice(dataStart, dataLength);
        switch (type)
        {
            case InboundType.Message:
                return OnMessage(data.Span);
            case InboundType.Ack:
                OnAck(id, data.Span);
                break;
            case InboundType.Ping:
                return connection.SendAsync(0, static (w, _, _) =>
                {
                    w.Begin(FrameTypes.Pong, 0);
                    return w.End();
                }, 0, CancellationToken.None);
            case InboundType.Direct:
                OnDirect(data.Span);
                break;
            case InboundType.Presence:
                OnPresence(data.Span);
                break;
            case InboundType.Occupancy:
                OnOccupancy(data.Span);
                break;
            case InboundType.Pong:
            case InboundType.Left:
                Complete(id, default);
                break;
            case InboundType.Joined:
                OnJoined(id, data.Span);
                break;
            case InboundType.Refreshed:
                Complete(id, new Reply(InboundFrame.ReadNumber(data.Span, "expiresAt"u8)));
                break;
            case InboundType.Error:
                OnError(id, data.Span);
                break;
        }
        return default;
    }

    private void Complete(long id, Reply reply)
    {
        if (id > 0 && _pending.TryTake(id, out var request)) request.TrySetResult(reply);
    }

    private void OnAck(long id, ReadOnlySpan<byte> data)
    {
        if (id <= 0 || !_pending.TryTake(id, out var request)) return;
        var number = InboundFrame.ReadNumber(data, request.Kind == ReplyKind.Delivered ? "delivered"u8 : "offset"u8);
        // Only a caller that asked for the epoch pays for reading it.
        var epoch = request.Kind == ReplyKind.AckWithEpoch ? AckEpoch(data) : null;
        request.TrySetResult(new Reply(number, Epoch: epoch));
    }

    private FromCache? _ackEpochCache;

    /// <summary>The <c>epoch</c> of an ack (null from a server older than 1.1); the last one is reused, as it rarely changes.</summary>
    private string? AckEpoch(ReadOnlySpan<byte> data)
    {
        if (!InboundFrame.TryReadString(data, "epoch"u8, out var raw, out var decoded)) return null;
        if (decoded is not null) return decoded;
        var cache = _ackEpochCache;
        if (cache is not null && raw.SequenceEqual(cache.Utf8)) return cache.Text;
        var text = System.Text.Encoding.UTF8.GetString(raw);
        _ackEpochCache = new FromCache(text, raw.ToArray());
        return text;
    }

    private ValueTask OnMessage(ReadOnlySpan<byte> data)
    {
        if (!TryAcceptMessage(data, out var message)) return default;
        Raise(MessageReceived, message);
        if (_messages is null || _messages.Writer.TryWrite(message)) return default;
        return WriteToChannelAsync(message);
    }

    private async ValueTask WriteToChannelAsync(RoomMessage message)
    {
        try
        {
            await _messages!.Writer.WriteAsync(message).ConfigureAwait(false);
        }
        catch (System.Threading.Channels.ChannelClosedException)
        {
            // Disposed: nobody reads any more.
        }
    }

    /// <summary>Parses a <c>message</c>, drops duplicates and messages of rooms not joined, and copies the payload out of the receive buffer.</summary>
    private bool TryAcceptMessage(ReadOnlySpan<byte> data, out RoomMessage message)
    {
        message = default;
        if (!InboundFrame.TryReadMessage(data, out var fields)) return false;
        string? room = null, epoch = null;
        if (!fields.Room.IsNull)
        {
            if (fields.Epoch.IsNull) return false;
            Span<char> name = stackalloc char[128];
            if (!fields.Room.TryDecode(name, out var length)) return false;
            lock (_rooms)
            {
                var cursor = _rooms.Find(name[..length]);
                if (cursor is null) return false; // left (or never joined)
                var sameEpoch = fields.Epoch.EqualsUtf8(cursor.EpochUtf8);
                var retired = !sameEpoch && fields.Epoch.EqualsUtf8(cursor.RetiredEpochUtf8);
                epoch = sameEpoch ? cursor.Epoch! : fields.Epoch.ToString()!;
                if (!RoomRecovery.Accept(cursor, sameEpoch, retired, epoch, fields.Offset)) return false;
                room = cursor.Room;
            }
        }
        var payload = data.Slice(fields.PayloadStart, fields.PayloadLength).ToArray();
        message = new RoomMessage(room, fields.Offset, epoch, FromString(fields.From), payload);
        return true;
    }

    private sealed record FromCache(string Text, byte[] Utf8);
    private FromCache? _fromCache;

    /// <summary>The sender's name; the last one is reused, as consecutive messages often share a sender.</summary>
    private string FromString(Utf8Text from)
    {
        var cache = _fromCache;
        if (cache is not null && from.EqualsUtf8(cache.Utf8)) return cache.Text;
        var text = from.ToString() ?? "";
        _fromCache = new FromCache(text, System.Text.Encoding.UTF8.GetBytes(text));
        return text;
    }

    private void OnDirect(ReadOnlySpan<byte> data)
    {
        if (!InboundFrame.TryReadDirect(data, out var from, out var start, out var length)) return;
        Raise(DirectReceived, new DirectMessage(FromString(from), data.Slice(start, length).ToArray()));
    }

    private void OnPresence(ReadOnlySpan<byte> data)
    {
        var e = InboundFrame.Element(data);
        var room = InboundFrame.String(e, "room");
        var user = InboundFrame.String(e, "user");
        if (room is null || user is null) return;
        Raise(PresenceChanged, new PresenceChange(room, InboundFrame.String(e, "event") == "join", user));
    }

    private void OnOccupancy(ReadOnlySpan<byte> data)
    {
        var e = InboundFrame.Element(data);
        var room = InboundFrame.String(e, "room");
        if (room is null || !e.TryGetProperty("count", out var count) || !count.TryGetInt32(out var n)) return;
        Raise(OccupancyChanged, new RoomOccupancy(room, n));
    }

    private void OnJoined(long id, ReadOnlySpan<byte> data)
    {
        if (id <= 0)
        {
            OnResynced(data);
            return;
        }
        if (!_pending.TryTake(id, out var request)) return;
        var e = InboundFrame.Element(data);
        var room = InboundFrame.String(e, "room") ?? request.Room ?? "";
        var epoch = InboundFrame.String(e, "epoch") ?? "";
        var offset = InboundFrame.Number(e, "offset");
        var recovered = InboundFrame.Bool(e, "recovered");
        var members = new List<string>();
        var listed = e.TryGetProperty("members", out var list) && list.ValueKind == JsonValueKind.Array;
        if (listed)
            foreach (var member in list.EnumerateArray())
                if (member.ValueKind == JsonValueKind.String) members.Add(member.GetString()!);
        // A server before PROTOCOL §9.3 sends no count: its list is every member.
        var count = e.TryGetProperty("count", out var n) && n.TryGetInt32(out var c) ? c : members.Count;

        RejoinOutcome? outcome = null;
        lock (_rooms)
        {
            // Under the same lock as message delivery: live messages after this are counted from the joined offset.
            if (_rooms.Find(room) is { } cursor) outcome = RoomRecovery.Joined(cursor, epoch, offset, recovered);
        }
        request.TrySetResult(new Reply(offset, new Joined(room, epoch, offset, members, recovered) { Count = count, MembersListed = listed }));
        if (request.Rejoin && outcome is { } o)
            Raise(Recovered, new RoomRecovered(room, o.Recovered, o.EpochChanged, o.Missed));
    }

    /// <summary>
    /// A <c>joined</c> without an id (PROTOCOL §9.1): the room's history was lost while this client
    /// stayed joined; its new epoch's messages came before this, through the usual duplicate check.
    /// </summary>
    private void OnResynced(ReadOnlySpan<byte> data)
    {
        var e = InboundFrame.Element(data);
        var room = InboundFrame.String(e, "room");
        var epoch = InboundFrame.String(e, "epoch");
        if (room is null || epoch is null) return;
        var offset = InboundFrame.Number(e, "offset");
        lock (_rooms)
        {
            // Under the same lock as message delivery, so live messages after it count from the new offset.
            if (_rooms.Find(room) is not { } cursor) return; // left meanwhile, or never joined
            RoomRecovery.Resynced(cursor, epoch, offset);
        }
        Raise(Resynced, new RoomResynced(room, epoch, offset, InboundFrame.Bool(e, "recovered")));
    }

    private void OnError(long id, ReadOnlySpan<byte> data)
    {
        var e = InboundFrame.Element(data);
        var error = new BrokerException(InboundFrame.String(e, "code") ?? ErrorCodes.Internal, InboundFrame.String(e, "message") ?? "");
        if (id > 0 && _pending.TryTake(id, out var request)) request.TrySetException(error);
        else RaiseError(error);
    }

    private void Raise<T>(Action<T>? handler, T argument)
    {
        if (handler is null) return;
        try
        {
            handler(argument);
        }
        catch (Exception e)
        {
            RaiseError(new BrokerHandlerException(e));
        }
    }

    private void RaiseStateChanged(BrokerClientState state) => Raise(StateChanged, state);

    private void RaiseClosed(ConnectionClosed closed) => Raise(Closed, closed);

    private void RaiseError(Exception error)
    {
        try
        {
            Error?.Invoke(error);
        }
        catch
        {
            // An Error handler that throws has nowhere left to report to.
        }
    }
}
