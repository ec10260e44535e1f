using System.Net.WebSockets;

namespace Broker.Client;

/// <summary>How a <see cref="BrokerClient"/> authenticates each connection (PROTOCOL §2).</summary>
public enum BrokerAuthentication
{
    /// <summary>Connect, then send <c>{"type":"auth","data":{"token":…}}</c> as the first frame.</summary>
    FirstMessage,

    /// <summary><c>POST {origin}/auth/ticket</c> with the token as a Bearer, then connect with <c>?ticket=</c>.</summary>
    Ticket,
}

/// <summary>Which transport a <see cref="BrokerClient"/> connects with (PROTOCOL §9.4).</summary>
public enum BrokerTransport
{
    /// <summary>
    /// WebSocket; after <see cref="BrokerClientOptions.FallbackAfter"/> attempts in a row whose
    /// socket never opened, Server-Sent Events, with a WebSocket attempt again on the first
    /// reconnect <see cref="BrokerClientOptions.RetryWebSocketAfter"/> after the switch.
    /// </summary>
    Auto,

    /// <summary>WebSocket only.</summary>
    WebSocket,

    /// <summary>Server-Sent Events only: a streaming <c>GET /sse/{route}</c> and a POST per batch of frames.</summary>
    Sse,
}

/// <summary>Settings of a <see cref="BrokerClient"/>. Every property has a documented default.</summary>
public sealed class BrokerClientOptions
{
    /// <summary>The WebSocket endpoint, e.g. <c>ws://127.0.0.1:5080/ws/chat</c>. Required.</summary>
    public Uri? Url { get; set; }

    /// <summary>
    /// Returns a JWT. Called on every (re)connect and before the token expires (refresh); it should
    /// return a fresh token each time. Null only for anonymous routes.
    /// </summary>
    public Func<CancellationToken, ValueTask<string>>? TokenProvider { get; set; }

    /// <summary>How the token reaches the broker. Default <see cref="BrokerAuthentication.FirstMessage"/>.</summary>
    public BrokerAuthentication Authentication { get; set; } = BrokerAuthentication.FirstMessage;

    /// <summary>Backoff and limits of automatic reconnection.</summary>
    public ReconnectOptions Reconnect { get; set; } = new();

    /// <summary>Backoff and limits of retrying a join, publish or send the server answered <c>unavailable</c>.</summary>
    public RetryOptions Retry { get; set; } = new();

    /// <summary>
    /// Bound on every request attempt (join, leave, publish, send, ping, refresh), including the wait
    /// for a connection while reconnecting, and on opening a connection up to <c>welcome</c>; a retry
    /// after <c>unavailable</c> gets a bound of its own (see <see cref="Retry"/>). Default 10 s.
    /// </summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long before <c>welcome.expiresAt</c> the token is refreshed; for short-lived tokens at most
    /// half the remaining lifetime. Default 30 s.
    /// </summary>
    public TimeSpan RefreshBefore { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Largest inbound frame accepted; a bigger one drops the connection (close 1009) and reconnects. Default 1 MiB.</summary>
    public int MaxFrameBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// When greater than zero, every room message is also written to <see cref="BrokerClient.Messages"/>,
    /// a channel of this capacity; a full channel holds up the receive loop (backpressure). Default 0 (off).
    /// </summary>
    public int MessageChannelCapacity { get; set; }

    /// <summary>The clock for timeouts, backoff delays, the heartbeat watchdog and refreshes. Default <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Where tickets are requested. Default <c>http(s)://{host:port of Url}/auth/ticket</c>.</summary>
    public Uri? TicketUrl { get; set; }

    /// <summary>Handler for the ticket request (<c>POST /auth/ticket</c>) and the SSE transport's requests. Default: a private <see cref="SocketsHttpHandler"/>.</summary>
    public HttpMessageHandler? HttpMessageHandler { get; set; }

    /// <summary>Adjusts each new socket's options (an <c>Origin</c> header, <c>DangerousDeflateOptions</c> for compression, a proxy…).</summary>
    public Action<ClientWebSocketOptions>? ConfigureWebSocket { get; set; }

    /// <summary>The transport. Default <see cref="BrokerTransport.Auto"/> (WebSocket, falling back to SSE).</summary>
    public BrokerTransport Transport { get; set; } = BrokerTransport.Auto;

    /// <summary>With <see cref="BrokerTransport.Auto"/>: WebSocket attempts in a row that never opened before SSE is tried. Default 2.</summary>
    public int FallbackAfter { get; set; } = 2;

    /// <summary>With <see cref="BrokerTransport.Auto"/> on SSE: the first reconnect this long after the switch tries WebSocket again. Default 5 min.</summary>
    public TimeSpan RetryWebSocketAfter { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The SSE stream. Default: <see cref="Url"/> with its last <c>/ws/</c> segment as <c>/sse/</c>, over http(s).</summary>
    public Uri? SseUrl { get; set; }

    /// <summary>Random source for backoff jitter (tests make it deterministic). Default <see cref="Random.Shared"/>.</summary>
    public Random? Random { get; set; }
}

/// <summary>
/// Exponential backoff between reconnection attempts: attempt <c>n</c> (from 0) waits
/// <c>min(MaxDelay, InitialDelay · Factor^n)</c>, reduced by a random share of at most <see cref="Jitter"/>.
/// The sequence restarts after every <c>welcome</c>.
/// </summary>
public sealed class ReconnectOptions
{
    /// <summary>Whether to reconnect at all after an unexpected drop. Default true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The first delay. Default 500 ms.</summary>
    public TimeSpan InitialDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The largest delay. Default 30 s.</summary>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Growth per attempt. Default 2.</summary>
    public double Factor { get; set; } = 2;

    /// <summary>Share of each delay that is randomised, 0–1: the delay is uniform in <c>[d·(1−Jitter), d]</c>. Default 0.5.</summary>
    public double Jitter { get; set; } = 0.5;

    /// <summary>Attempts after a drop before giving up (state <see cref="BrokerClientState.Closed"/>); null for no limit. Default null.</summary>
    public int? MaxAttempts { get; set; }
}

/// <summary>
/// Retries of a join, publish or send answered <c>unavailable</c> (PROTOCOL §9.1: not served now,
/// never applied, retry with backoff). Retry <c>n</c> (from 0) waits <c>min(MaxDelay, InitialDelay · Factor^n)</c>,
/// reduced by a random share of at most <see cref="Jitter"/>; each attempt has its own request timeout.
/// When attempts or time run out, the request fails with the last <c>unavailable</c>. Other errors are never retried.
/// </summary>
public sealed class RetryOptions
{
    /// <summary>Whether to retry at all; false fails the request at the first <c>unavailable</c>. Default true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The first delay. Default 200 ms.</summary>
    public TimeSpan InitialDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The largest delay. Default 5 s.</summary>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Growth per attempt. Default 2.</summary>
    public double Factor { get; set; } = 2;

    /// <summary>Share of each delay that is randomised, 0–1. Default 0.5.</summary>
    public double Jitter { get; set; } = 0.5;

    /// <summary>Sends in all, the first included. Default 10.</summary>
    public int MaxAttempts { get; set; } = 10;

    /// <summary>No retry is made that would start later than this after the first send. Default 30 s.</summary>
    public TimeSpan MaxElapsed { get; set; } = TimeSpan.FromSeconds(30);
}
