using System.Diagnostics;
using Broker.Bench.Infra;
using Broker.Bench.Load;

namespace Broker.Bench.Soak;

/// <summary>
/// A room member the way a careful third-party client behaves: one lean WebSocket, joined to every
/// soak room; when the connection drops (or the server goes silent past its heartbeat) it
/// reconnects to the next node that answers and re-joins every room with <c>since</c> = its last
/// (epoch, offset). Every frame goes through one <see cref="StreamChecker"/> per room.
/// </summary>
public sealed class SoakMember : IRecordSink
{
    private readonly int _index;
    private readonly string _user;
    private readonly Uri[] _endpoints;
    private readonly SoakLedger _ledger;
    private readonly TimeSpan _silence;
    private readonly Dictionary<string, StreamChecker> _rooms;
    /// <summary>Rooms whose join is unanswered, with when it was sent.</summary>
    private readonly Dictionary<string, long> _joining = new(StringComparer.Ordinal);
    /// <summary>Every join sent: its room and the <c>since</c> it asked from.</summary>
    private readonly Dictionary<string, (string Room, string? Epoch, long Offset)> _joinIds = new(StringComparer.Ordinal);
    private readonly object _gate = new();
    private LeanClient? _client;
    private int _joins;

    public SoakMember(int index, int homeNode, IEnumerable<string> rooms, Uri[] endpoints, SoakLedger ledger, TimeSpan silence)
    {
        _index = index;
        _user = $"member-{index}";
        Node = homeNode;
        _endpoints = endpoints;
        _ledger = ledger;
        _silence = silence;
        _rooms = rooms.ToDictionary(r => r, _ => new StreamChecker(), StringComparer.Ordinal);
    }

    /// <summary>The node it is (or was last) connected to.</summary>
    public int Node { get; private set; }

    /// <summary>Connected, and every room's join answered.</summary>
    public bool Joined
    {
        get { lock (_gate) return _client is { State: System.Net.WebSockets.WebSocketState.Open } && _joining.Count == 0; }
    }

    public IReadOnlyDictionary<string, StreamChecker> Rooms => _rooms;

    /// <summary>Why it is not <see cref="Joined"/>, for the report.</summary>
    public string Describe()
    {
        lock (_gate)
            return $"member {_index} on node {Node}: " + (_client is null ? "not connected" : $"socket {_client.State}") +
                   (_joining.Count > 0 ? ", joins unanswered: " + string.Join(",", _joining.Keys.Order()) : "") +
                   (_lastClose is { } close ? $", last close {close}" : "");
    }

    private string? _lastClose;

    /// <summary>True when this member's view of <paramref name="room"/> reached (<paramref name="epoch"/>, <paramref name="offset"/>).</summary>
    public bool Reached(string room, string epoch, long offset)
    {
        lock (_gate) return _rooms[room].Epoch == epoch && _rooms[room].Cursor >= offset;
    }

    /// <summary>Connects, joins, reads; on any loss reconnects with backoff, until <paramref name="stop"/>.</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        var backoff = TimeSpan.FromMilliseconds(100);
        var first = true;
        while (!stop.IsCancellationRequested)
        {
            LeanClient client;
            try
            {
                using var attempt = CancellationTokenSource.CreateLinkedTokenSource(stop);
                attempt.CancelAfter(TimeSpan.FromSeconds(5));
                client = await LeanClient.ConnectAsync(Dialect.For(ServerKind.Broker), _endpoints[Node], BenchTokens.Create(_user), _index, attempt.Token);
            }
            catch (Exception) when (!stop.IsCancellationRequested)
            {
                Node = OtherNode(); // any live node will do
                await Pause(backoff, stop);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(2).Ticks));
                continue;
            }
            catch (Exception) { break; }
            backoff = TimeSpan.FromMilliseconds(100);
            if (!first) Interlocked.Increment(ref _ledger.MemberReconnects);
            first = false;
            await using (client)
            {
                var loop = client.RunAsync(this, stop);
                try
                {
                    foreach (var room in _rooms.Keys) await JoinAsync(client, room, stop);
                }
                catch (Exception) { } // the loop ends too; reconnect below
                while (!loop.IsCompleted)
                {
                    await Task.WhenAny(loop, Task.Delay(500, CancellationToken.None));
                    if (Stopwatch.GetElapsedTime(client.LastReceivedAt) > _silence) await client.CloseAsync(); // a dead server sends nothing, not even pings
                    else await RetryUnansweredJoinsAsync(client, stop);
                }
                lock (_gate)
                {
                    _client = null;
                    foreach (var checker in _rooms.Values) checker.OnDisconnected();
                    _lastClose = client.CloseStatus?.ToString() ?? "reset";
                }
            }
            if (!stop.IsCancellationRequested) Node = OtherNode();
        }
    }

    /// <summary>
    /// A join with no answer after <see cref="JoinTimeout"/> (longer than the cluster takes to down
    /// a dead node and move its shards) means the server dropped it. Sending it again on the same
    /// connection could bring two answers and a replay of what already arrived, so the member
    /// reconnects instead, and re-joins every room with <c>since</c>. Counted.
    /// </summary>
    private async Task RetryUnansweredJoinsAsync(LeanClient client, CancellationToken stop)
    {
        int stale;
        lock (_gate) stale = _joining.Count(j => Stopwatch.GetElapsedTime(j.Value) > JoinTimeout);
        if (stale == 0) return;
        Interlocked.Add(ref _ledger.JoinsUnanswered, stale);
        await client.CloseAsync();
    }

    private static readonly TimeSpan JoinTimeout = TimeSpan.FromSeconds(20);

    private async Task JoinAsync(LeanClient client, string room, CancellationToken stop)
    {
        byte[] frame;
        lock (_gate)
        {
            _client = client;
            _joining[room] = Stopwatch.GetTimestamp();
            var checker = _rooms[room];
            checker.OnJoinSent();
            var id = $"j{++_joins}";
            _joinIds[id] = (room, checker.Epoch, checker.Cursor);
            frame = SoakFrame.Join(id, room, checker.Epoch, checker.Cursor);
        }
        await client.SendAsync(frame, stop);
    }

    public void OnRecord(ReadOnlySpan<byte> record)
    {
        var frame = SoakFrame.Parse(record);
        var now = Stopwatch.GetTimestamp();
        lock (_gate)
        {
            switch (frame.Type)
            {
                case "message" when frame.Room is { } room && frame.Epoch is { } epoch && _rooms.TryGetValue(room, out var checker):
                    var (wasEpoch, wasAt) = (checker.Epoch, checker.Cursor);
                    var verdict = checker.OnMessage(epoch, frame.Offset);
                    Report(verdict, room, wasEpoch, wasAt, $"message ({epoch}, {frame.Offset})");
                    if (verdict == StreamVerdict.Duplicate) break;
                    _ledger.Delivered(room, epoch, frame.Offset, frame.Sequence);
                    if (frame.SentAt != 0) _ledger.Latency.Record(frame.SentAt, now);
                    break;
                case "joined" when frame.Room is { } room && frame.Epoch is { } epoch && _rooms.TryGetValue(room, out var checker):
                    var (joinedFrom, joinedAt) = (checker.Epoch, checker.Cursor);
                    long? since = frame.Id is { } joinId && _joinIds.TryGetValue(joinId, out var asked) && asked.Epoch == epoch ? asked.Offset : null;
                    Report(checker.OnJoined(epoch, frame.Offset, frame.Recovered, since, answersJoin: frame.Id is not null), room, joinedFrom, joinedAt,
                        $"joined{(frame.Id is null ? " without id" : "")} ({epoch}, {frame.Offset}, recovered:{(frame.Recovered ? "true" : "false")})");
                    if (frame.Id is not null) _joining.Remove(room);
                    break;
                case "error":
                    if (frame.Code == "unavailable" && frame.Id is { } id && _joinIds.TryGetValue(id, out var refused) && _client is { } client)
                    {
                        // A join the server could not serve now: retry with backoff (PROTOCOL §9.1).
                        Interlocked.Increment(ref _ledger.JoinRetries);
                        _rooms[refused.Room].OnJoinRefused();
                        _ = RetryJoinAsync(client, refused.Room);
                    }
                    else
                    {
                        Interlocked.Increment(ref _ledger.MemberErrors);
                        _ledger.Sample("member", frame.Code ?? "?", System.Text.Encoding.UTF8.GetString(record));
                    }
                    break;
            }
        }
    }

    private void Report(StreamVerdict verdict, string room, string? epoch, long cursor, string what)
    {
        if (verdict is StreamVerdict.SilentGap or StreamVerdict.Duplicate or StreamVerdict.Reordered)
            _ledger.Anomaly($"{verdict} member {_index} (node {Node}) {room}: at ({epoch}, {cursor}) got {what}");
    }

    private async Task RetryJoinAsync(LeanClient client, string room)
    {
        try
        {
            await Task.Delay(TimeSpan.FromMilliseconds(250 + Random.Shared.Next(250)));
            if (client.State == System.Net.WebSockets.WebSocketState.Open) await JoinAsync(client, room, CancellationToken.None);
        }
        catch (Exception) { } // the connection went; the reconnect re-joins
    }

    /// <summary>A random other node: members of a dead node spread over the live ones instead of piling onto one.</summary>
    private int OtherNode() => (Node + 1 + Random.Shared.Next(_endpoints.Length - 1)) % _endpoints.Length;

    private static async Task Pause(TimeSpan backoff, CancellationToken stop)
    {
        try { await Task.Delay(backoff + TimeSpan.FromMilliseconds(Random.Shared.Next(100)), stop); }
        catch (OperationCanceledException) { }
    }
}
