using System.Collections.Concurrent;
using System.Diagnostics;
using Broker.Bench.Infra;
using Broker.Bench.Load;

namespace Broker.Bench.Soak;

/// <summary>
/// One room's publisher: a lean connection that joins its room and publishes with <c>id</c>s at a
/// steady rate, one publish in flight, waiting for each <c>ack</c>. <c>unavailable</c> is retried
/// with backoff; a publish still unanswered when the connection drops (or after 10 s) is an
/// unknown outcome, never retried (a retry could apply it twice); a late ack still counts as acked.
/// <c>forbidden</c> and <c>rate_limited</c> are counted (the soak fails on them), then it re-joins
/// and goes on.
/// </summary>
public sealed class SoakPublisher : IRecordSink
{
    private static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(10);

    private readonly int _index;
    private readonly string _room;
    private readonly Uri[] _endpoints;
    private readonly SoakLedger _ledger;
    private readonly ConcurrentDictionary<string, TaskCompletionSource<SoakFrame>> _waiting = new(StringComparer.Ordinal);
    /// <summary>Publishes sent and not answered yet (ids → sequence): a late ack is still an ack.</summary>
    private readonly ConcurrentDictionary<string, long> _inFlight = new(StringComparer.Ordinal);
    private LeanClient? _client;
    private Task? _loop;
    private int _node;
    private long _sequence;
    private int _ids;

    public SoakPublisher(int index, string room, int homeNode, Uri[] endpoints, SoakLedger ledger)
    {
        _index = index;
        _room = room;
        _node = homeNode;
        _endpoints = endpoints;
        _ledger = ledger;
    }

    /// <summary>Publishes <paramref name="perSecond"/> times a second until <paramref name="stop"/>.</summary>
    public async Task RunAsync(double perSecond, CancellationToken stop, CancellationToken abort)
    {
        var interval = TimeSpan.FromSeconds(1 / perSecond);
        var clock = Stopwatch.StartNew();
        var due = TimeSpan.Zero;
        while (!stop.IsCancellationRequested && !abort.IsCancellationRequested)
        {
            await PublishAsync(abort);
            due += interval;
            if (clock.Elapsed > due + interval) due = clock.Elapsed; // fell behind (an outage): go on at the rate, no burst
            var wait = due - clock.Elapsed;
            if (wait > TimeSpan.Zero)
            {
                try { await Task.Delay(wait, stop); }
                catch (OperationCanceledException) { }
            }
        }
    }

    /// <summary>Publishes until one is acked (the closing publish that fixes the room's final epoch and offset), within <paramref name="deadline"/>.</summary>
    public async Task<bool> PublishUntilAckedAsync(TimeSpan deadline, CancellationToken abort)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < deadline && !abort.IsCancellationRequested)
        {
            if (await PublishAsync(abort)) return true;
            await Task.Delay(200, CancellationToken.None);
        }
        return false;
    }

    /// <summary>One publish, with its <c>unavailable</c> retries; true when acked.</summary>
    private async Task<bool> PublishAsync(CancellationToken abort)
    {
        var sequence = ++_sequence;
        var backoff = TimeSpan.FromMilliseconds(100);
        for (var attempt = 0; attempt < 12 && !abort.IsCancellationRequested; attempt++)
        {
            var client = await ConnectedAsync(abort);
            if (client is null) return false;
            var id = $"p{++_ids}";
            var answer = new TaskCompletionSource<SoakFrame>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiting[id] = answer;
            _inFlight[id] = sequence;
            Interlocked.Increment(ref _ledger.Published);
            SoakFrame reply;
            try
            {
                await client.SendAsync(SoakFrame.Publish(id, _room, sequence, Stopwatch.GetTimestamp()), abort);
                if (!await AnswerOrDropAsync(answer.Task, abort)) throw new IOException("connection lost");
                reply = answer.Task.Result;
            }
            catch (TimeoutException)
            {
                _waiting.TryRemove(id, out _);
                Interlocked.Increment(ref _ledger.Unanswered);
                return false;
            }
            catch (Exception)
            {
                // The connection dropped with the publish in flight: applied or not, nobody knows.
                _waiting.TryRemove(id, out _);
                if (!abort.IsCancellationRequested) Interlocked.Increment(ref _ledger.UnknownOutcome);
                return false;
            }
            if (reply.Type == "ack") return true; // recorded by OnRecord
            switch (reply.Code)
            {
                case "unavailable":
                    Interlocked.Increment(ref _ledger.UnavailableRetries);
                    await Task.Delay(backoff + TimeSpan.FromMilliseconds(Random.Shared.Next(50)), CancellationToken.None);
                    backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(2).Ticks));
                    continue;
                case "forbidden":
                    Interlocked.Increment(ref _ledger.Forbidden);
                    await RejoinAsync(client, abort); // the server forgot our membership: join again to keep the load going
                    return false;
                case "rate_limited":
                    Interlocked.Increment(ref _ledger.RateLimited);
                    return false;
                default:
                    Interlocked.Increment(ref _ledger.OtherPublishErrors);
                    return false;
            }
        }
        Interlocked.Increment(ref _ledger.GaveUp);
        return false;
    }

    /// <summary>The open connection, after (re)connecting to any live node and joining the room; null when aborted.</summary>
    private async Task<LeanClient?> ConnectedAsync(CancellationToken abort)
    {
        if (_client is { State: System.Net.WebSockets.WebSocketState.Open } open && _loop is { IsCompleted: false }) return open;
        if (_client is not null)
        {
            await _client.DisposeAsync();
            _client = null;
            _node = (_node + 1) % _endpoints.Length;
            Interlocked.Increment(ref _ledger.PublisherReconnects);
        }
        var backoff = TimeSpan.FromMilliseconds(100);
        while (!abort.IsCancellationRequested)
        {
            LeanClient? client = null;
            try
            {
                using var attempt = CancellationTokenSource.CreateLinkedTokenSource(abort);
                attempt.CancelAfter(TimeSpan.FromSeconds(5));
                client = await LeanClient.ConnectAsync(Dialect.For(ServerKind.Broker), _endpoints[_node], BenchTokens.Create($"publisher-{_index}"), 1000 + _index, attempt.Token);
                _loop = client.RunAsync(this, abort);
                if (await RejoinAsync(client, attempt.Token))
                {
                    _client = client;
                    return client;
                }
            }
            catch (Exception) when (!abort.IsCancellationRequested) { }
            if (client is not null) await client.DisposeAsync();
            _node = (_node + 1) % _endpoints.Length;
            try { await Task.Delay(backoff, abort); }
            catch (OperationCanceledException) { }
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(2).Ticks));
        }
        return null;
    }

    private async Task<bool> RejoinAsync(LeanClient client, CancellationToken cancellation)
    {
        for (var attempt = 0; attempt < 10; attempt++)
        {
            var id = $"j{++_ids}";
            var answer = new TaskCompletionSource<SoakFrame>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiting[id] = answer;
            try
            {
                await client.SendAsync(SoakFrame.Join(id, _room, null, 0), cancellation);
                if (!await AnswerOrDropAsync(answer.Task, cancellation)) return false;
                var reply = answer.Task.Result;
                if (reply.Type == "joined") return true;
                if (reply.Code != "unavailable") return false;
                Interlocked.Increment(ref _ledger.JoinRetries);
                await Task.Delay(250 * (attempt + 1), cancellation);
            }
            catch (Exception) { return false; }
            finally { _waiting.TryRemove(id, out _); }
        }
        return false;
    }

    /// <summary>True when the answer came; false when the connection ended first; <see cref="TimeoutException"/> after <see cref="AnswerTimeout"/>.</summary>
    private async Task<bool> AnswerOrDropAsync(Task<SoakFrame> answer, CancellationToken cancellation)
    {
        var first = await Task.WhenAny(answer, _loop ?? Task.CompletedTask).WaitAsync(AnswerTimeout, cancellation);
        return first == answer || answer.IsCompleted;
    }

    public void OnRecord(ReadOnlySpan<byte> record)
    {
        var frame = SoakFrame.Parse(record);
        if (frame.Id is not { } id) return; // presence, and the room's own messages are the members' business
        if (frame.Type == "ack" && _inFlight.TryRemove(id, out var sequence) && frame.Epoch is { } epoch)
        {
            _ledger.Ack(_room, epoch, frame.Offset, sequence);
            if (!_waiting.ContainsKey(id)) Interlocked.Increment(ref _ledger.LateAcks);
        }
        else if (frame.Type == "error")
        {
            _inFlight.TryRemove(id, out _);
            _ledger.Sample("publisher", frame.Code ?? "?", System.Text.Encoding.UTF8.GetString(record));
        }
        if (_waiting.TryRemove(id, out var answer)) answer.TrySetResult(frame);
    }

    public async Task StopAsync()
    {
        if (_client is not null) await _client.DisposeAsync();
        _client = null;
    }
}
