/**
 * Browser and Node client for the Broker WebSocket protocol, version 1.1 (docs/clients.md).
 * Dependency-free: WebSocket, fetch and the clock are taken from the options or the globals.
 * @module
 */
import { Emitter } from './emitter.js';
import { backoffDelay, DefaultReconnect, DefaultRetry } from './backoff.js';
import { CloseCodes, closeAction } from './close-codes.js';
import { BrokerError } from './errors.js';
import { SseSocket, sseUrlFor } from './sse-socket.js';

export { BrokerError, CloseCodes, closeAction, backoffDelay, DefaultReconnect, DefaultRetry, sseUrlFor };

/** Room names the server accepts (PROTOCOL §3); checked before anything is sent. */
export const ROOM_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;

/** @param {unknown} room */
export function isValidRoom(room) {
  return typeof room === 'string' && ROOM_PATTERN.test(room);
}

/** The longest `idempotencyKey` the server accepts (PROTOCOL §9.2: 1–64 characters). */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 64;

const KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * A fresh idempotency key: 22 URL-safe characters, 132 random bits from crypto.getRandomValues
 * (browsers, Node 19+), so two publishes never share one. `publish()` makes one per call; make
 * your own with this when you retry a publish yourself (after `disconnected` or `timeout`).
 * Without Web Crypto (Node 18 without its flag) it falls back to Math.random, which is unique
 * enough for de-duplication but guessable.
 * @returns {string}
 */
export function createIdempotencyKey() {
  const bytes = new Uint8Array(22);
  const crypto = globalThis.crypto;
  if (typeof crypto?.getRandomValues === 'function') crypto.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  let key = '';
  // 256 is a multiple of 64: the low 6 bits of a uniform byte are uniform.
  for (const byte of bytes) key += KEY_ALPHABET[byte & 63];
  return key;
}

/** @param {unknown} key */
function isValidIdempotencyKey(key) {
  return typeof key === 'string' && key.length >= 1 && key.length <= MAX_IDEMPOTENCY_KEY_LENGTH;
}

/**
 * Resolves `url` to a ws:/wss: URL: a relative URL against `location` (a page's), and
 * http(s) to ws(s), so `'/ws/chat'` works on any page the broker serves.
 * @param {string} url
 * @param {{ href: string } | undefined} [location]
 */
export function resolveWebSocketUrl(url, location = globalThis.location) {
  let resolved;
  try {
    resolved = new URL(url, location?.href);
  } catch {
    throw new TypeError(`cannot resolve the WebSocket url "${url}" (a relative url needs a page location)`);
  }
  if (resolved.protocol === 'http:') resolved.protocol = 'ws:';
  else if (resolved.protocol === 'https:') resolved.protocol = 'wss:';
  if (resolved.protocol !== 'ws:' && resolved.protocol !== 'wss:') {
    throw new TypeError(`the WebSocket url must be ws:, wss:, http: or https:, not ${resolved.protocol}`);
  }
  return resolved.toString();
}

/** The default ticket endpoint: `/auth/ticket` on the broker's own origin. */
function defaultTicketUrl(wsUrl) {
  const http = new URL(wsUrl);
  http.protocol = http.protocol === 'wss:' ? 'https:' : 'http:';
  return new URL('/auth/ticket', http).toString();
}

function resolveTicketUrl(ticketUrl, wsUrl) {
  if (ticketUrl == null) return defaultTicketUrl(wsUrl);
  const http = new URL(wsUrl);
  http.protocol = http.protocol === 'wss:' ? 'https:' : 'http:';
  return new URL(ticketUrl, http).toString();
}

const OPEN = 1;

/** The reply type each request waits for (PROTOCOL §3). */
const REPLIES = Object.freeze({ join: 'joined', leave: 'left', publish: 'ack', send: 'ack', ping: 'pong', auth: 'refreshed' });

const DefaultRefresh = Object.freeze({ fraction: 0.1, minMargin: 5000 });

/**
 * When `transport: 'auto'` falls back to SSE and comes back (docs/clients.md, "SSE fallback"):
 * after `after` WebSocket attempts in a row that never opened, and, once on SSE, a WebSocket
 * attempt again on the first reconnect `retryWebSocketAfter` ms after the switch.
 */
const DefaultFallback = Object.freeze({ after: 2, retryWebSocketAfter: 5 * 60_000 });

const TRANSPORTS = new Set(['auto', 'websocket', 'sse']);

/** The close codes SseSocket reports for an SSE stream refused with 400, 404 or 406. */
const SSE_NOT_SERVED = new Set([4400, 4404, 4406]);

/** The requests retried after an `unavailable` (PROTOCOL §9.1): the server never applied them. */
const RETRIED = new Set(['join', 'publish', 'send']);

/** `retry: false` turns retries off; anything else is merged over the defaults. */
function retryOptions(retry) {
  if (retry === false) return { ...DefaultRetry, maxAttempts: 1 };
  return { ...DefaultRetry, ...retry };
}

/**
 * One logical connection to a broker route that survives socket drops: it authenticates,
 * answers pings, watches the heartbeat, refreshes its token, reconnects with backoff and
 * rejoins its rooms from the last offset it saw.
 */
export class BrokerClient {
  #options;
  #events = new Emitter();
  /** @type {'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed'} */
  #state = 'idle';
  /** @type {any} the current socket; handlers of any other socket are ignored */
  #socket = null;
  /** Bumped by every attempt and by close(), so async steps of a superseded attempt stop. */
  #generation = 0;
  /** Consecutive failed attempts since the last welcome (drives the backoff). */
  #attempt = 0;
  /** Whether the one fresh-token retry after a 4401 has been used since the last welcome. */
  #authRetried = false;
  /** The last server `error` frame without an id, to explain the close that follows it. */
  #lastServerError = null;
  #welcome = null;
  #expiresAt = null;
  #lastFrameAt = 0;
  #timers = { reconnect: null, handshake: null, watchdog: null, refresh: null };
  /** @type {Map<string, PendingRequest>} in call order: queued ones are sent in that order */
  #pending = new Map();
  #nextId = 0;
  #idPrefix;
  /** @type {{ resolve: Function, reject: Function }[]} */
  #connectWaiters = [];
  /** @type {Map<string, RoomEntry>} */
  #rooms = new Map();
  /** The transport of the current (or last) attempt: 'websocket' | 'sse' | null before the first. */
  #transport = null;
  /** Whether the current attempt got as far as a socket (not stopped by its token or ticket). */
  #socketTried = false;
  /** Whether the current attempt's socket opened (a WebSocket's open; an SSE stream's welcome). */
  #opened = false;
  /** 'auto' only: the transport the next attempt uses unless a WebSocket retry is due. */
  #preferred = 'websocket';
  /** 'auto' only: consecutive WebSocket attempts that never opened. */
  #webSocketFailures = 0;
  /** 'auto' only: when SSE first got a welcome since the switch (null: not yet). */
  #sseSince = null;
  /** The bearer token of SSE requests: the latest one the client got. */
  #bearer = null;

  /** @param {import('./broker-client.d.ts').BrokerClientOptions} options */
  constructor(options) {
    if (!options || typeof options.url !== 'string') throw new TypeError('options.url is required');
    const auth = options.auth ?? 'jwt';
    if (auth !== 'jwt' && auth !== 'ticket' && auth !== 'none') {
      throw new TypeError(`options.auth must be 'jwt', 'ticket' or 'none', not ${auth}`);
    }
    if (auth !== 'none' && options.token == null) throw new TypeError(`options.token is required with auth '${auth}'`);
    const transport = options.transport ?? 'auto';
    if (!TRANSPORTS.has(transport)) throw new TypeError(`options.transport must be 'auto', 'websocket' or 'sse', not ${transport}`);
    const url = resolveWebSocketUrl(options.url, options.location ?? globalThis.location);
    const WebSocketImpl = options.WebSocket ?? globalThis.WebSocket;
    if (transport !== 'sse' && typeof WebSocketImpl !== 'function') {
      throw new TypeError('no WebSocket implementation: pass options.WebSocket (Node 20 needs --experimental-websocket), or transport: \'sse\'');
    }
    const fetchImpl = options.fetch ?? (globalThis.fetch ? (...args) => globalThis.fetch(...args) : undefined);
    if (auth === 'ticket' && typeof fetchImpl !== 'function') throw new TypeError('ticket auth needs fetch: pass options.fetch');
    if (transport === 'sse' && typeof fetchImpl !== 'function') throw new TypeError('the SSE transport needs fetch: pass options.fetch');
    const sseUrl = options.sseUrl == null ? null : new URL(options.sseUrl, new URL(url.replace(/^ws/, 'http'))).toString();
    const EventSourceImpl = options.EventSource === undefined ? globalThis.EventSource : options.EventSource;

    this.#options = {
      url,
      auth,
      token: options.token,
      ticketUrl: auth === 'ticket' ? resolveTicketUrl(options.ticketUrl, url) : null,
      reconnect: { ...DefaultReconnect, ...options.reconnect },
      retry: retryOptions(options.retry),
      refresh: { ...DefaultRefresh, ...options.refresh },
      requestTimeout: options.requestTimeout ?? 10000,
      WebSocket: WebSocketImpl,
      fetch: fetchImpl,
      transport,
      fallback: { ...DefaultFallback, ...options.fallback },
      sseUrl,
      EventSource: typeof EventSourceImpl === 'function' ? EventSourceImpl : null,
      random: options.random ?? Math.random,
      now: options.now ?? (() => Date.now()),
      setTimeout: options.setTimeout ?? ((fn, ms) => globalThis.setTimeout(fn, ms)),
      clearTimeout: options.clearTimeout ?? ((handle) => globalThis.clearTimeout(handle)),
    };
    this.#idPrefix = Math.floor(this.#options.random() * 36 ** 6).toString(36);
    if (transport === 'sse') this.#preferred = 'sse';
  }

  /** 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed' */
  get state() { return this.#state; }
  /** The user id from the last `welcome`, or null. */
  get user() { return this.#welcome?.user ?? null; }
  /** The connection id from the last `welcome`, or null. */
  get connectionId() { return this.#welcome?.connection ?? null; }
  /** The last `welcome` data, or null. */
  get welcome() { return this.#welcome; }
  /**
   * The transport of the current connection (or of the attempt in progress): 'websocket', or
   * 'sse' after the fallback (or with `transport: 'sse'`); null before the first attempt.
   */
  get transport() { return this.#transport; }
  /** When the current credential expires (unix ms), or null. */
  get expiresAt() { return this.#expiresAt; }
  /**
   * Rooms this client is in or is rejoining: room → `{ epoch, offset, members: Set, count, membersListed, joined }`.
   * `offset` is the last offset seen in order; `joined` is false while a rejoin is in flight.
   * `count` is the room's users as the server last said (`joined`, `occupancy`, `presence`);
   * `members` is kept only while `membersListed` (a room with full presence, PROTOCOL §9.3).
   * Read-only: change membership with join()/leave().
   */
  get rooms() { return this.#rooms; }

  /** Subscribes to an event; returns the function that unsubscribes. */
  on(event, listener) { return this.#events.on(event, listener); }
  off(event, listener) { this.#events.off(event, listener); }

  /**
   * Starts connecting (if idle or closed) and resolves with the `welcome` data of the first
   * successful connection. Rejects with a BrokerError when the client ends up 'closed' first:
   * credentials refused (`unauthorized`, `forbidden`), a server 1000, close(), or maxAttempts.
   * @returns {Promise<import('./broker-client.d.ts').WelcomeData>}
   */
  connect() {
    if (this.#state === 'connected') return Promise.resolve(this.#welcome);
    const welcomed = new Promise((resolve, reject) => this.#connectWaiters.push({ resolve, reject }));
    if (this.#state === 'idle' || this.#state === 'closed') {
      this.#attempt = 0;
      this.#authRetried = false;
      this.#setState('connecting');
      this.#open();
    }
    return welcomed;
  }

  /** Closes with 1000 and stops: no reconnect, pending requests reject with `closed`, rooms are forgotten. */
  close(reason = 'client closed') {
    if (this.#state === 'closed' || this.#state === 'idle') {
      this.#rooms.clear(); // after a final server close the rooms were kept for a later connect()
      return;
    }
    this.#generation++;
    const socket = this.#socket;
    this.#clearTimers();
    if (socket) {
      this.#detach(socket);
      try { socket.close(CloseCodes.Normal, reason); } catch { /* already closing */ }
    }
    this.#rooms.clear();
    this.#finish({ code: CloseCodes.Normal, reason }, new BrokerError('closed', 'the client was closed'));
  }

  /**
   * Joins a room. With `since`, the messages after it are replayed first (as 'message' events)
   * and 'recovered' is emitted; a client rejoins by itself after reconnects, so `since` is only
   * for resuming across page loads.
   * @returns {Promise<import('./broker-client.d.ts').JoinedData>}
   */
  join(room, options = {}) {
    if (!isValidRoom(room)) return Promise.reject(invalidRoom(room));
    const since = options.since;
    if (since && !this.#rooms.has(room)) {
      // Tracked from now on so the replay is de-duplicated and 'recovered' is reported.
      this.#rooms.set(room, newRoomEntry(since.epoch, since.offset, { rejoin: false, recovering: since.epoch }));
    }
    return this.#request('join', since ? { room, since: { epoch: since.epoch, offset: since.offset } } : { room });
  }

  /** Leaves a room (idempotent on the server); it is no longer rejoined after reconnects. */
  leave(room) {
    if (!isValidRoom(room)) return Promise.reject(invalidRoom(room));
    this.#rooms.delete(room);
    // A join still in flight must not bring the room back when its reply lands.
    for (const request of this.#pending.values()) {
      if (request.frame.type === 'join' && request.frame.data.room === room) request.superseded = true;
    }
    return this.#request('leave', { room });
  }

  /**
   * Publishes to a room this client has joined; resolves with `{ offset, epoch }` once the room
   * accepted it (`epoch` is null from a server older than protocol 1.1, whose ack lacks it).
   * Every publish carries an `idempotencyKey` (PROTOCOL §9.2): `options.idempotencyKey`, or a
   * fresh one from createIdempotencyKey(). The frame is serialized once, so the first send and
   * every retry after `unavailable` carry the same key, and the server applies it at most once.
   * @returns {Promise<{ offset: number, epoch: string | null }>}
   */
  publish(room, payload, options = {}) {
    if (!isValidRoom(room)) return Promise.reject(invalidRoom(room));
    const { idempotencyKey = createIdempotencyKey() } = options;
    if (!isValidIdempotencyKey(idempotencyKey)) return Promise.reject(invalidIdempotencyKey(idempotencyKey));
    const data = { room, payload: payload ?? null };
    if (options.excludeSelf !== undefined) data.excludeSelf = Boolean(options.excludeSelf);
    data.idempotencyKey = idempotencyKey;
    return this.#request('publish', data).then((ack) => ({ offset: ack.offset, epoch: ack.epoch ?? null }));
  }

  /**
   * Sends to every connection of a user, cluster-wide; resolves with `{ delivered }`.
   * @returns {Promise<{ delivered: number }>}
   */
  send(user, payload) {
    if (typeof user !== 'string' || user.length === 0) return Promise.reject(new BrokerError('bad_request', 'user must be a non-empty string'));
    return this.#request('send', { user, payload: payload ?? null });
  }

  /** A round trip to the server; resolves with the elapsed milliseconds. */
  async ping() {
    const started = this.#options.now();
    await this.#request('ping', undefined);
    return this.#options.now() - started;
  }

  // ---- connection lifecycle ------------------------------------------------------------

  async #open() {
    const generation = ++this.#generation;
    this.#lastServerError = null;
    const transport = this.#nextTransport();
    this.#transport = transport;
    this.#socketTried = false;
    this.#opened = false;
    let credentials;
    try {
      credentials = await this.#credentials(transport === 'sse' ? this.#sseUrl() : this.#options.url);
    } catch (error) {
      if (generation !== this.#generation) return;
      if (error.code === 'unauthorized') return this.#ended({ code: CloseCodes.Unauthorized, reason: error.message }, error);
      this.#events.emit('error', error);
      return this.#ended({ code: CloseCodes.Abnormal, reason: error.message }, error);
    }
    if (generation !== this.#generation) return;

    let socket;
    this.#socketTried = true;
    try {
      socket = transport === 'sse'
        ? new SseSocket(credentials.url, {
          fetch: this.#options.fetch,
          authorization: () => this.#bearer,
          // EventSource cannot send a header, so only where the URL carries the credential.
          EventSource: this.#options.auth === 'jwt' ? null : this.#options.EventSource,
        })
        : new this.#options.WebSocket(credentials.url);
    } catch (error) {
      const failure = new BrokerError('disconnected', `could not open the ${transport === 'sse' ? 'SSE stream' : 'WebSocket'}: ${error?.message ?? error}`, { cause: error });
      return this.#ended({ code: CloseCodes.Abnormal, reason: failure.message }, failure);
    }
    this.#socket = socket;
    socket.onopen = () => this.#onOpen(socket, credentials.token);
    socket.onmessage = (event) => this.#onFrame(socket, event.data);
    socket.onclose = (event) => this.#onSocketClosed(socket, event);
    // The close event always follows an error event and carries everything we act on.
    socket.onerror = () => {};
    // A handshake (open + auth + welcome) that hangs counts as a failed attempt.
    this.#timers.handshake = this.#after(this.#options.requestTimeout, () => this.#drop(socket, 'handshake timeout'));
  }

  /**
   * The transport of the next attempt. 'auto' uses the preferred one, except that on SSE a
   * reconnect `retryWebSocketAfter` after the switch tries WebSocket once more.
   */
  #nextTransport() {
    const { transport, fallback } = this.#options;
    if (transport !== 'auto') return transport;
    if (this.#preferred === 'sse' && this.#sseSince !== null && this.#options.now() - this.#sseSince >= fallback.retryWebSocketAfter) {
      return 'websocket';
    }
    return this.#preferred;
  }

  /**
   * 'auto': what the attempt that just ended says about the transports. A WebSocket that never
   * opened `after` times in a row (a proxy that strips Upgrade, a runtime that blocks it) moves
   * to SSE; a WebSocket retry from SSE that fails goes back to SSE at once; an SSE attempt that
   * fails before any SSE welcome goes back to WebSocket (the broker was likely just down).
   * Returns true when the next attempt uses another transport (it then goes without backoff).
   */
  #learnFromAttempt() {
    if (this.#options.transport !== 'auto' || !this.#socketTried) return false;
    const before = this.#nextTransport();
    if (this.#transport === 'websocket') {
      if (this.#opened) {
        this.#webSocketFailures = 0;
      } else if (this.#preferred === 'sse') {
        this.#sseSince = this.#options.now(); // the retry failed: next one after another period
      } else if (++this.#webSocketFailures >= this.#options.fallback.after) {
        this.#preferred = 'sse';
        this.#sseSince = null;
      }
    } else if (!this.#opened && this.#sseSince === null) {
      this.#preferred = 'websocket';
      this.#webSocketFailures = 0;
    }
    return this.#nextTransport() !== before;
  }

  #sseUrl() {
    return this.#options.sseUrl ?? sseUrlFor(this.#options.url);
  }

  /** The token (JWT mode) or the ticket-bearing URL (ticket mode) for one attempt. */
  async #credentials(url) {
    const { auth } = this.#options;
    if (auth === 'none') return { url, token: null };
    const token = await this.#freshToken();
    this.#bearer = token;
    if (auth === 'jwt') return { url, token };
    const ticket = await this.#fetchTicket(token);
    const withTicket = new URL(url);
    withTicket.searchParams.set('ticket', ticket);
    return { url: withTicket.toString(), token: null };
  }

  async #freshToken() {
    const source = this.#options.token;
    let token;
    try {
      token = typeof source === 'function' ? await source() : source;
    } catch (error) {
      throw new BrokerError('token_error', `the token provider failed: ${error?.message ?? error}`, { cause: error });
    }
    if (typeof token !== 'string' || token.length === 0) throw new BrokerError('token_error', 'the token provider returned no token');
    return token;
  }

  async #fetchTicket(token) {
    let response;
    try {
      response = await this.#options.fetch(this.#options.ticketUrl, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}` },
      });
    } catch (error) {
      throw new BrokerError('ticket_error', `the ticket request failed: ${error?.message ?? error}`, { cause: error });
    }
    if (response.status === 401 || response.status === 403) {
      throw new BrokerError('unauthorized', `the ticket endpoint refused the token (HTTP ${response.status})`);
    }
    if (!response.ok) throw new BrokerError('ticket_error', `the ticket endpoint answered HTTP ${response.status}`);
    const body = await response.json().catch(() => null);
    if (typeof body?.ticket !== 'string') throw new BrokerError('ticket_error', 'the ticket endpoint answered without a ticket');
    return body.ticket;
  }

  #onOpen(socket, token) {
    if (socket !== this.#socket) return;
    this.#opened = true;
    // An SSE stream is authenticated by its GET (header or ticket): it opens with the welcome.
    if (this.#options.auth === 'jwt' && this.#transport === 'websocket') this.#sendFrame({ type: 'auth', data: { token } });
  }

  #onSocketClosed(socket, event) {
    if (socket !== this.#socket) return;
    this.#detach(socket);
    const code = typeof event?.code === 'number' && event.code !== 0 ? event.code : CloseCodes.Abnormal;
    this.#ended({ code, reason: event?.reason ?? '' }, null);
  }

  /** The client gave up on a socket (handshake or heartbeat timeout): close it and reconnect. */
  #drop(socket, reason) {
    if (socket !== this.#socket) return;
    this.#detach(socket);
    try { socket.close(CloseCodes.Normal, reason); } catch { /* it may be CONNECTING or gone */ }
    this.#ended({ code: CloseCodes.Abnormal, reason }, null);
  }

  #detach(socket) {
    socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
    if (this.#socket === socket) this.#socket = null;
  }

  /**
   * A connection attempt or connection ended (PROTOCOL §6 decides what next). Requests already
   * sent are rejected with `disconnected` (at most once: the server may or may not have applied
   * them); requests not yet sent keep waiting for the next connection.
   */
  #ended(close, error) {
    this.#clearTimers();
    this.#rejectInFlight();
    for (const [room, entry] of this.#rooms) {
      if (!entry.rejoin) this.#rooms.delete(room);
      else entry.joined = false;
    }

    let action = closeAction(close.code);
    // 'auto' tried SSE on a guess: a broker (or proxy) that refuses it as a request it does not
    // serve is no reason to stop; the next attempt goes back to WebSocket.
    if (action === 'stop' && this.#options.transport === 'auto' && this.#transport === 'sse' && !this.#opened && SSE_NOT_SERVED.has(close.code)) {
      action = 'reconnect';
    }
    if (action === 'reauth') {
      action = this.#authRetried ? 'stop' : 'retry-now';
      this.#authRetried = true;
    }
    const switching = this.#learnFromAttempt();
    if (action === 'reconnect' && this.#attempt >= this.#options.reconnect.maxAttempts) action = 'stop';

    if (action === 'stop') {
      this.#finish(close, this.#terminalError(close, error));
      return;
    }
    // A refused credential is retried at once with a fresh one; anything else backs off.
    // So does a switch of transport: the other one has not failed yet.
    const delay = action === 'retry-now' || switching ? 0 : backoffDelay(this.#attempt++, this.#options.reconnect, this.#options.random);
    this.#events.emit('closed', { code: close.code, reason: close.reason, willReconnect: true, delay });
    this.#setState('reconnecting');
    this.#timers.reconnect = this.#after(delay, () => {
      this.#timers.reconnect = null;
      this.#open();
    });
  }

  #terminalError(close, error) {
    const details = { closeCode: close.code };
    const server = this.#lastServerError;
    if (close.code === CloseCodes.Unauthorized) {
      return new BrokerError('unauthorized', server?.message || error?.message || close.reason || 'unauthorized', details);
    }
    if (close.code === CloseCodes.Forbidden) return new BrokerError('forbidden', server?.message || close.reason || 'forbidden', details);
    if (close.code >= 4000 && close.code <= 4499) return new BrokerError(server?.code ?? 'closed', close.reason || `closed with ${close.code}`, details);
    if (close.code === CloseCodes.Normal) return new BrokerError('closed', close.reason || 'the server closed the connection', details);
    return new BrokerError('disconnected', `gave up after ${this.#attempt} reconnect attempts (last close ${close.code})`, details);
  }

  /** Moves to 'closed' for good: settles everything that was waiting. */
  #finish(close, error) {
    this.#clearTimers();
    for (const [id, request] of this.#pending) {
      this.#pending.delete(id);
      this.#options.clearTimeout(request.timer);
      this.#options.clearTimeout(request.retryTimer);
      request.reject(error);
    }
    this.#events.emit('closed', { code: close.code, reason: close.reason, willReconnect: false, error });
    this.#setState('closed');
    for (const waiter of this.#connectWaiters.splice(0)) waiter.reject(error);
  }

  // ---- frames --------------------------------------------------------------------------

  #onFrame(socket, raw) {
    if (socket !== this.#socket) return;
    // Any frame at all is a sign of life (PROTOCOL §5).
    this.#lastFrameAt = this.#options.now();
    if (typeof raw !== 'string') return; // the server only sends text frames
    let frame;
    try {
      frame = JSON.parse(raw);
    } catch {
      this.#events.emit('error', new BrokerError('bad_frame', 'the server sent a frame that is not JSON'));
      return;
    }
    if (frame === null || typeof frame !== 'object' || typeof frame.type !== 'string') return;
    const data = frame.data ?? {};
    switch (frame.type) {
      case 'welcome': return this.#onWelcome(data);
      case 'ping': return this.#sendFrame(frame.id === undefined ? { type: 'pong' } : { type: 'pong', id: frame.id });
      case 'refreshed': return this.#onRefreshed(frame, data);
      case 'message': return this.#onMessage(data);
      case 'direct': return this.#events.emit('direct', data);
      case 'presence': return this.#onPresence(data);
      // Presence too fast to list (a storm, or a big room): only the count (PROTOCOL §9.3).
      case 'occupancy': return this.#onOccupancy(data);
      case 'joined': return this.#onJoined(frame, data);
      case 'left': return this.#settle(frame, data);
      case 'ack': return this.#settle(frame, data);
      case 'pong': return this.#settle(frame, data);
      case 'error': return this.#onError(frame, data);
      default: return; // newer servers may add frame types; ignoring them keeps old clients working
    }
  }

  #onWelcome(data) {
    this.#options.clearTimeout(this.#timers.handshake);
    this.#timers.handshake = null;
    this.#welcome = data;
    this.#attempt = 0;
    if (this.#options.transport === 'auto') {
      if (this.#transport === 'websocket') {
        this.#preferred = 'websocket';
        this.#sseSince = null;
      } else {
        this.#sseSince ??= this.#options.now();
      }
    }
    this.#authRetried = false;
    this.#startWatchdog(data.heartbeat);
    this.#expiresAt = null; // a new credential: its expiry is not compared with the old one's
    this.#setExpiry(data.expiresAt ?? null);

    // The wire order after a reconnect: rejoins first, then the requests made meanwhile;
    // listeners run after both, so whatever they send comes later still.
    const previous = this.#state;
    this.#state = 'connected';
    this.#rejoinAll();
    // A request waiting out an `unavailable` backoff goes out when its timer fires, not now.
    for (const request of this.#pending.values()) if (!request.sent && !request.retryTimer) this.#transmit(request);

    this.#announceState('connected', previous);
    this.#events.emit('welcome', data);
    for (const waiter of this.#connectWaiters.splice(0)) waiter.resolve(data);
  }

  #onMessage(data) {
    const entry = data.room == null ? undefined : this.#rooms.get(data.room);
    if (entry) {
      if (entry.epoch === data.epoch) {
        // A replay can overlap what this client already saw: offsets are per epoch.
        if (data.offset <= entry.offset) return;
      } else if (entry.retired !== null && entry.retired === data.epoch) {
        // A late copy from the history the room lost: the cursor has moved to the new epoch
        // (a resync or a rejoin), and going back would replay that epoch twice.
        return;
      } else {
        // A new epoch restarts the cursor: its messages (a resync's, from offset 1) are new.
        moveToEpoch(entry, data.epoch);
      }
      entry.offset = data.offset;
      if (entry.recovering) entry.recovering.missed++;
    }
    this.#events.emit('message', data);
  }

  #onPresence(data) {
    const entry = this.#rooms.get(data.room);
    if (entry) {
      if (data.event === 'join') entry.members.add(data.user);
      else if (data.event === 'leave') entry.members.delete(data.user);
      if (entry.membersListed) entry.count = entry.members.size;
    }
    this.#events.emit('presence', data);
  }

  #onOccupancy(data) {
    const entry = this.#rooms.get(data.room);
    if (entry && typeof data.count === 'number') entry.count = data.count;
    this.#events.emit('occupancy', data);
  }

  #onJoined(frame, data) {
    // Without an id it answers no request: the room lost its history and the server resynced us.
    if (frame.id === undefined) return this.#onResynced(data);
    const request = this.#take(frame.id);
    let entry = this.#rooms.get(data.room);
    if (!entry) {
      if (request?.internal || request?.superseded) return request.resolve(data); // left meanwhile
      entry = newRoomEntry(data.epoch, data.offset, { rejoin: true });
      this.#rooms.set(data.room, entry);
    }
    const recovering = entry.recovering;
    moveCursor(entry, data.epoch, data.offset);
    takeMembers(entry, data);
    entry.joined = true;
    entry.rejoin = true;
    entry.recovering = null;
    request?.resolve(data);
    if (recovering) {
      const epochChanged = recovering.epoch !== data.epoch;
      this.#events.emit('recovered', {
        room: data.room,
        recovered: Boolean(data.recovered) && !epochChanged,
        epochChanged,
        missed: recovering.missed,
      });
    }
  }

  /**
   * PROTOCOL §9.1: the room's host died and its history with it, while this client stayed a
   * member. The server has sent every message of the new epoch from offset 1 (delivered as they
   * came, a new epoch restarting the cursor) and now this `joined` without an id. Messages of the
   * old epoch after the cursor may be lost: the app is told, and reconnects resume from here.
   */
  #onResynced(data) {
    const entry = data.room == null ? undefined : this.#rooms.get(data.room);
    if (!entry) return; // left meanwhile (the leave crossed the resync) or never joined
    moveCursor(entry, data.epoch, data.offset);
    // Without a list, the members the client knew are still its best guess (the count is exact).
    if (Array.isArray(data.members)) takeMembers(entry, data);
    else if (typeof data.count === 'number') entry.count = data.count;
    this.#events.emit('resynced', {
      room: data.room,
      epoch: data.epoch,
      offset: data.offset,
      recovered: Boolean(data.recovered),
    });
  }

  #onRefreshed(frame, data) {
    this.#setExpiry(data.expiresAt ?? null);
    this.#events.emit('refreshed', data);
    this.#settle(frame, data);
  }

  #onError(frame, data) {
    const error = new BrokerError(data.code ?? 'internal', data.message);
    const request = this.#take(frame.id);
    if (request) {
      if (error.code === 'unavailable' && this.#retryLater(request, error)) return;
      return request.reject(error);
    }
    // Without an id it is about the connection (e.g. `unauthorized` before a 4401 close).
    if (frame.id === undefined) this.#lastServerError = error;
    this.#events.emit('error', error);
  }

  #sendFrame(frame) {
    return this.#sendText(JSON.stringify(frame));
  }

  #sendText(text) {
    const socket = this.#socket;
    if (!socket || socket.readyState !== OPEN) return false;
    try {
      socket.send(text);
      return true;
    } catch {
      return false; // the close event follows
    }
  }

  // ---- requests ------------------------------------------------------------------------

  /**
   * Sends `type` with a fresh id and settles on the reply with that id. While connecting or
   * reconnecting the request waits for the connection; the timeout covers the wait too.
   */
  #request(type, data, { internal = false } = {}) {
    return new Promise((resolve, reject) => {
      if (this.#state === 'idle' || this.#state === 'closed') {
        reject(new BrokerError('not_connected', `cannot ${type}: the client is ${this.#state}; call connect() first`));
        return;
      }
      const id = `${this.#idPrefix}-${(++this.#nextId).toString(36)}`;
      const frame = data === undefined ? { type, id } : { type, id, data };
      let text;
      try {
        text = JSON.stringify(frame);
      } catch (error) {
        reject(new BrokerError('bad_request', `the ${type} data is not JSON-serializable: ${error?.message ?? error}`, { cause: error }));
        return;
      }
      const request = {
        frame, text, expects: REPLIES[type], resolve, reject, sent: false, internal, superseded: false,
        timer: null, retryTimer: null, attempts: 1, startedAt: this.#options.now(),
      };
      this.#armTimeout(request);
      this.#pending.set(id, request);
      if (this.#state === 'connected') this.#transmit(request);
    });
  }

  /** The request timeout of one attempt; it covers the wait for a connection too. */
  #armTimeout(request) {
    const { id, type } = request.frame;
    request.timer = this.#after(this.#options.requestTimeout, () => {
      if (this.#pending.get(id) !== request) return;
      this.#pending.delete(id);
      this.#options.clearTimeout(request.retryTimer);
      request.reject(new BrokerError('timeout', `no reply to ${type} within ${this.#options.requestTimeout} ms`));
    });
  }

  /**
   * `unavailable` (PROTOCOL §9.1): the server did not apply the request and asks for a retry
   * with backoff. Sends it again (the same text: same id, as its one reply was this error, and
   * for a publish the same idempotencyKey, so the server applies it once) after a jittered,
   * growing delay, while attempts and time are left; false when they are not, and the caller
   * rejects with this last error. While it waits it is neither sent nor timed out, survives a
   * reconnect (it was not applied, so resending is safe), and goes out after the rooms' rejoins.
   */
  #retryLater(request, error) {
    const policy = this.#options.retry;
    if (!RETRIED.has(request.frame.type) || request.superseded) return false;
    if (request.attempts >= policy.maxAttempts) return false;
    const delay = backoffDelay(request.attempts - 1, policy, this.#options.random);
    if (this.#options.now() - request.startedAt + delay > policy.maxElapsed) return false;
    request.attempts++;
    request.sent = false;
    const { id } = request.frame;
    this.#pending.set(id, request);
    request.retryTimer = this.#after(delay, () => {
      request.retryTimer = null;
      if (this.#pending.get(id) !== request) return;
      if (request.superseded) {
        // leave() was called meanwhile: joining now would undo it.
        this.#pending.delete(id);
        request.reject(error);
        return;
      }
      this.#armTimeout(request);
      if (this.#state === 'connected') this.#transmit(request);
    });
    return true;
  }

  #transmit(request) {
    request.sent = this.#sendText(request.text);
  }

  #take(id) {
    if (typeof id !== 'string') return undefined;
    const request = this.#pending.get(id);
    if (!request || request.retryTimer) return undefined; // not sent: nothing can answer it
    this.#pending.delete(id);
    this.#options.clearTimeout(request.timer);
    return request;
  }

  #settle(frame, data) {
    const request = this.#pending.get(frame.id);
    if (!request || request.retryTimer || request.expects !== frame.type) return;
    this.#take(frame.id).resolve(data);
  }

  #rejectInFlight() {
    for (const [id, request] of this.#pending) {
      // The client's own requests (rejoins, refreshes) belong to one connection; the next
      // welcome makes new ones, even for a rejoin that was waiting to retry.
      if (!request.sent && !request.internal) continue;
      this.#pending.delete(id);
      this.#options.clearTimeout(request.timer);
      this.#options.clearTimeout(request.retryTimer);
      request.reject(new BrokerError('disconnected', `the connection dropped before the reply to ${request.frame.type}; it may or may not have been applied`));
    }
  }

  // ---- rooms ---------------------------------------------------------------------------

  /** After a reconnect: rejoin every room from the last offset seen, so nothing is lost. */
  #rejoinAll() {
    for (const [room, entry] of this.#rooms) {
      if (!entry.rejoin) continue;
      // Keep the epoch from before the first drop if an earlier rejoin never completed.
      entry.recovering ??= { epoch: entry.epoch, missed: 0 };
      this.#rejoin(room, entry);
    }
  }

  #rejoin(room, entry) {
    const since = { epoch: entry.epoch, offset: entry.offset };
    this.#request('join', { room, since }, { internal: true }).catch((error) => {
      if (error.code === 'disconnected' || error.code === 'closed') return; // the next welcome retries
      // No answer in time: the server answers every join once the room is back (one that died
      // with its node takes the failure detector's time), so ask again while the room is wanted.
      if (error.code === 'timeout' && this.#rooms.get(room) === entry && this.#state === 'connected') {
        this.#rejoin(room, entry);
        return;
      }
      if (this.#rooms.get(room) === entry) this.#rooms.delete(room);
      this.#events.emit('error', new BrokerError(error.code, `rejoining ${room} failed: ${error.message}`, { room }));
    });
  }

  // ---- timers --------------------------------------------------------------------------

  #startWatchdog(heartbeat) {
    const limit = (heartbeat?.interval ?? 0) + (heartbeat?.timeout ?? 0);
    if (!(limit > 0)) return;
    const socket = this.#socket;
    // One timer per silence window rather than one per frame: on fire, re-arm for what is left.
    const arm = (delay) => {
      this.#timers.watchdog = this.#after(delay, () => {
        const silent = this.#options.now() - this.#lastFrameAt;
        if (silent >= limit) this.#drop(socket, 'heartbeat timeout');
        else arm(limit - silent);
      });
    };
    arm(limit);
  }

  #setExpiry(expiresAt) {
    const previous = this.#expiresAt;
    this.#expiresAt = expiresAt;
    this.#options.clearTimeout(this.#timers.refresh);
    this.#timers.refresh = null;
    // A static token cannot be refreshed, and a refresh that did not extend the lifetime
    // would only repeat itself: the server closes with 4401 at expiry and we reconnect.
    if (typeof this.#options.token !== 'function' || expiresAt == null) return;
    if (previous != null && expiresAt <= previous) return;
    const lifetime = expiresAt - this.#options.now();
    if (lifetime <= 0) return;
    const { fraction, minMargin } = this.#options.refresh;
    // 10% of the lifetime but at least a few seconds, and never before half of it.
    const margin = Math.min(Math.max(lifetime * fraction, minMargin), lifetime / 2);
    this.#timers.refresh = this.#after(lifetime - margin, () => {
      this.#timers.refresh = null;
      this.#refresh();
    });
  }

  async #refresh() {
    const generation = this.#generation;
    let token;
    try {
      token = await this.#freshToken();
    } catch (error) {
      this.#events.emit('error', error);
      return;
    }
    if (generation !== this.#generation || this.#state !== 'connected') return;
    // Any valid token of the session's user authorizes its POSTs: the new one from now on.
    this.#bearer = token;
    try {
      await this.#request('auth', { token }, { internal: true });
    } catch (error) {
      // A refused refresh is followed by a 4401 close, which the reconnect logic handles.
      if (error.code !== 'disconnected' && error.code !== 'closed') this.#events.emit('error', error);
    }
  }

  #after(ms, fn) {
    return this.#options.setTimeout(fn, ms);
  }

  #clearTimers() {
    for (const key of Object.keys(this.#timers)) {
      if (this.#timers[key] !== null) this.#options.clearTimeout(this.#timers[key]);
      this.#timers[key] = null;
    }
  }

  // ---- state ---------------------------------------------------------------------------

  #setState(next) {
    const previous = this.#state;
    this.#state = next;
    this.#announceState(next, previous);
  }

  #announceState(state, previous) {
    if (state !== previous) this.#events.emit('state', { state, previous });
  }
}

/**
 * @typedef {object} PendingRequest
 * @property {{ type: string, id: string, data?: unknown }} frame
 * @property {string} expects
 * @property {(value: any) => void} resolve
 * @property {(error: BrokerError) => void} reject
 * @property {boolean} sent
 * @property {string} text the frame, serialized once
 * @property {boolean} internal
 * @property {boolean} superseded a join whose room was left before the reply
 * @property {unknown} timer the request timeout of the current attempt
 * @property {unknown} retryTimer set while waiting to retry after `unavailable`
 * @property {number} attempts sends so far, the first included
 * @property {number} startedAt when it was made (the retry budget counts from here)
 */

/**
 * @typedef {object} RoomEntry
 * @property {string | null} epoch
 * @property {string | null} retired the epoch before this one: its late messages are stale
 * @property {number} offset
 * @property {Set<string>} members
 * @property {number} count users in the room as the server last said
 * @property {boolean} membersListed whether the server lists the members (full presence) or counts only
 * @property {boolean} joined
 * @property {boolean} rejoin
 * @property {{ epoch: string | null, missed: number } | null} recovering
 */

function newRoomEntry(epoch, offset, { rejoin, recovering }) {
  return {
    epoch: epoch ?? null,
    retired: null,
    offset: offset ?? 0,
    members: new Set(),
    count: 0,
    membersListed: false,
    joined: false,
    rejoin,
    recovering: recovering === undefined ? null : { epoch: recovering ?? null, missed: 0 },
  };
}

/**
 * A `joined` (a reply or a resync) sets the room's presence: the list when the room sends one
 * (full presence), else none, and the count (a server before PROTOCOL §9.3 sends only the list).
 */
function takeMembers(entry, data) {
  entry.membersListed = Array.isArray(data.members);
  entry.members = new Set(entry.membersListed ? data.members : []);
  entry.count = typeof data.count === 'number' ? data.count : entry.members.size;
}

/** Moves a room's cursor to another epoch (keeping the one it leaves, to drop its late copies). */
function moveToEpoch(entry, epoch) {
  if (entry.epoch !== null) entry.retired = entry.epoch;
  entry.epoch = epoch;
}

/**
 * A `joined` (a reply or a resync) sets the cursor: the room's offset on a new epoch; on the same
 * epoch never backwards, as messages after the joined offset may already have been delivered.
 */
function moveCursor(entry, epoch, offset) {
  if (entry.epoch === epoch) {
    entry.offset = Math.max(entry.offset, offset);
  } else {
    moveToEpoch(entry, epoch);
    entry.offset = offset;
  }
}

function invalidRoom(room) {
  return new BrokerError('bad_request', `invalid room name ${JSON.stringify(room)}: must match ${ROOM_PATTERN}`);
}

function invalidIdempotencyKey(key) {
  const shown = typeof key === 'string' ? `a string of ${key.length} characters` : key === null ? 'null' : `a ${typeof key}`;
  return new BrokerError('bad_request', `invalid idempotencyKey: must be a string of 1–${MAX_IDEMPOTENCY_KEY_LENGTH} characters, not ${shown}`);
}
