// Types for @broker/client (protocol version 1.1, see PROTOCOL.md and docs/clients.md).

/** Any JSON value: what a payload can be. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** 'idle' before connect(); 'closed' after close() or a final server close. */
export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed';

/** Server error codes (PROTOCOL §3) and the client's own. */
export type ServerErrorCode =
  | 'bad_request' | 'unauthorized' | 'forbidden' | 'not_found' | 'too_large' | 'rate_limited' | 'internal'
  /** Not served now, never applied (§9.1): join, publish and send are retried with backoff first. */
  | 'unavailable';
export type ClientErrorCode =
  | 'timeout' | 'disconnected' | 'closed' | 'not_connected' | 'token_error' | 'ticket_error' | 'bad_frame';
export type BrokerErrorCode = ServerErrorCode | ClientErrorCode;

export class BrokerError extends Error {
  constructor(code: BrokerErrorCode | (string & {}), message?: string, details?: { room?: string; closeCode?: number; cause?: unknown });
  readonly name: 'BrokerError';
  /** Machine-readable: a server error code or a client one. */
  readonly code: BrokerErrorCode | (string & {});
  /** Set when the error concerns one room (a refused rejoin). */
  readonly room?: string;
  /** Set when the error ended the connection: the close code behind it. */
  readonly closeCode?: number;
}

export declare const CloseCodes: Readonly<{
  Normal: 1000;
  GoingAway: 1001;
  Abnormal: 1006;
  Policy: 1008;
  TooBig: 1009;
  Internal: 1011;
  Unauthorized: 4401;
  Forbidden: 4403;
  SlowConsumer: 4508;
}>;

/** What a close code tells the client to do (PROTOCOL §6). */
export declare function closeAction(code: number): 'stop' | 'reauth' | 'reconnect';

export interface ReconnectOptions {
  /** First delay, ms. Default 500. */
  initialDelay: number;
  /** Cap, ms. Default 15000. */
  maxDelay: number;
  /** Growth per attempt. Default 2. */
  factor: number;
  /** Share (0–1) randomly taken off each delay. Default 0.5. */
  jitter: number;
  /** Consecutive failed attempts after which the client gives up ('closed'). Default Infinity. */
  maxAttempts: number;
}

export declare const DefaultReconnect: Readonly<ReconnectOptions>;

/** Retries of a join, publish or send answered `unavailable` (PROTOCOL §9.1). */
export interface RetryOptions {
  /** First delay, ms. Default 200. */
  initialDelay: number;
  /** Cap, ms. Default 5000. */
  maxDelay: number;
  /** Growth per attempt. Default 2. */
  factor: number;
  /** Share (0–1) randomly taken off each delay. Default 0.5. */
  jitter: number;
  /** Sends in all, the first included; then the request rejects with the last error. Default 10. */
  maxAttempts: number;
  /** No retry is made that would start later than this after the first send, ms. Default 30000. */
  maxElapsed: number;
}

export declare const DefaultRetry: Readonly<RetryOptions>;

/** When transport 'auto' uses SSE (docs/clients.md, "SSE fallback"). */
export interface FallbackOptions {
  /** WebSocket attempts in a row that never opened before the next one is SSE. Default 2. */
  after: number;
  /** On SSE, the first reconnect this long (ms) after the switch tries WebSocket again. Default 300000. */
  retryWebSocketAfter: number;
}

/** `ws(s)://host/…/ws/{route}` → `http(s)://host/…/sse/{route}` (the SSE transport's stream). */
export declare function sseUrlFor(wsUrl: string): string;

/** The delay before reconnect attempt `attempt` (0-based): in [base·(1−jitter), base], base = min(maxDelay, initialDelay·factor^attempt). */
export declare function backoffDelay(attempt: number, options: Omit<ReconnectOptions, 'maxAttempts'>, random?: () => number): number;

export declare const ROOM_PATTERN: RegExp;
export declare function isValidRoom(room: unknown): room is string;
/** 64: an idempotencyKey is a string of 1–64 characters (PROTOCOL §9.2). */
export declare const MAX_IDEMPOTENCY_KEY_LENGTH: 64;
/**
 * A fresh idempotency key: 22 URL-safe characters (`A–Z a–z 0–9 - _`), 132 bits from
 * crypto.getRandomValues. publish() makes one per call; use this to make your own when you
 * retry a publish yourself (after `disconnected` or `timeout`) and pass the same one each time.
 */
export declare function createIdempotencyKey(): string;
/** Resolves a relative or http(s) url to ws(s) against `location` (default: globalThis.location). */
export declare function resolveWebSocketUrl(url: string, location?: { href: string }): string;

/** A JWT, or a function returning one (called on every connect, reconnect and refresh). */
export type TokenSource = string | (() => string | Promise<string>);

/** The subset of the WebSocket API the client uses. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

export type FetchLike = (url: string, init: { method: string; headers: Record<string, string> }) =>
  Promise<{ ok: boolean; status: number; json(): Promise<any> }>;

export interface BrokerClientOptions {
  /** `ws://host/ws/chat`, or relative (`/ws/chat`) / http(s) resolved against the page. */
  url: string;
  /** Required unless auth is 'none'. */
  token?: TokenSource;
  /** 'jwt' (default): first-message auth. 'ticket': POST ticketUrl, connect with ?ticket=. 'none': anonymous routes. */
  auth?: 'jwt' | 'ticket' | 'none';
  /** Default: `/auth/ticket` on the broker's origin. */
  ticketUrl?: string;
  reconnect?: Partial<ReconnectOptions>;
  /** Retries after `unavailable`; `false` turns them off (the request rejects at once). */
  retry?: Partial<RetryOptions> | false;
  /** Token refresh margin before expiry: max(fraction·lifetime, minMargin), at most half the lifetime. Defaults 0.1 and 5000 ms. */
  refresh?: Partial<{ fraction: number; minMargin: number }>;
  /** Per request attempt (including the wait for a connection) and for the handshake. Default 10000 ms. */
  requestTimeout?: number;
  /** Not needed with transport 'sse'. */
  WebSocket?: WebSocketConstructor;
  /** Ticket requests, and the SSE transport's stream (streamed body) and POSTs. */
  fetch?: FetchLike;
  /**
   * 'auto' (default): WebSocket, falling back to SSE (PROTOCOL §9.4) after `fallback.after`
   * WebSocket attempts in a row that never opened; 'websocket': never SSE; 'sse': SSE only.
   */
  transport?: 'auto' | 'websocket' | 'sse';
  fallback?: Partial<FallbackOptions>;
  /** The SSE stream's url. Default: `url` with its last `/ws/` segment as `/sse/`, http(s). */
  sseUrl?: string;
  /**
   * Reads the SSE stream where the url carries the credential (auth 'ticket' or 'none').
   * Default globalThis.EventSource; null streams with fetch instead. With auth 'jwt' fetch is
   * always used, as only it can send `Authorization: Bearer`.
   */
  EventSource?: (new (url: string) => { onmessage: ((event: { data: string }) => void) | null; onerror: ((event: unknown) => void) | null; close(): void }) | null;
  /** Where a relative url is resolved (default globalThis.location). */
  location?: { href: string };
  /** Injectable for deterministic tests. */
  random?: () => number;
  now?: () => number;
  setTimeout?: (callback: () => void, ms: number) => unknown;
  clearTimeout?: (handle: any) => void;
}

// ---- frame data (PROTOCOL §3) ----

export interface WelcomeData {
  connection: string;
  user: string;
  node?: string;
  /** Unix ms, or null when the credential does not expire. */
  expiresAt: number | null;
  heartbeat: { interval: number; timeout: number };
}

export interface RefreshedData {
  expiresAt: number;
}

export interface MessageData<P = Json> {
  /** null for a route-wide broadcast. */
  room: string | null;
  offset: number;
  epoch: string | null;
  from: string;
  payload: P;
}

export interface DirectData<P = Json> {
  from: string;
  payload: P;
}

export interface PresenceData {
  room: string;
  event: 'join' | 'leave';
  user: string;
}

/**
 * `occupancy`: how many users are in a room (PROTOCOL §9.3). A `counts` room (or a `full` room past
 * `MaxPresenceMembers`) sends it instead of `presence`, at most once a second; a `full` room sends
 * it when changes come too fast to list. The room's member list may then be stale.
 */
export interface OccupancyData {
  room: string;
  count: number;
}

export interface JoinedData {
  room: string;
  epoch: string;
  offset: number;
  /** Users in the room; left out by a room that sends counts only (presence `counts` or `off`, §9.3). */
  members?: string[];
  /** Users now (not connections, §9.3). */
  count?: number;
  recovered: boolean;
}

/** What a room publish resolves with: its place in the room's stream. */
export interface PublishAck {
  offset: number;
  /** The room's epoch (protocol 1.1); null from an older server whose ack lacks it. */
  epoch: string | null;
}

export interface PublishOptions {
  /** Not delivered back to this connection. */
  excludeSelf?: boolean;
  /**
   * PROTOCOL §9.2: a string of 1–64 characters; the server applies a publish to a room at most
   * once per key within its window (`Broker:Rooms:IdempotencyWindow`, default 5 min), and a
   * repeat gets the first one's ack (same offset and epoch). Default: a fresh
   * createIdempotencyKey() per call. The first send and every retry after `unavailable` carry
   * the same key. Pass your own (the same one each time) to make your own retries safe, e.g. a
   * publish rejected with `disconnected` or `timeout`. Anything but a string of 1–64
   * characters rejects with `bad_request` and nothing is sent.
   */
  idempotencyKey?: string;
}

export interface LeftData {
  room: string;
}

export interface ErrorData {
  code: ServerErrorCode | (string & {});
  message: string;
}

export interface Since {
  epoch: string;
  offset: number;
}

/** Client → server frames. */
export type ClientFrame =
  | { type: 'auth'; id?: string; data: { token: string } }
  | { type: 'join'; id?: string; data: { room: string; since?: Since } }
  | { type: 'leave'; id?: string; data: { room: string } }
  | { type: 'publish'; id?: string; data: { room: string; payload: Json; excludeSelf?: boolean; idempotencyKey?: string } }
  | { type: 'send'; id?: string; data: { user: string; payload: Json } }
  | { type: 'ping'; id?: string }
  | { type: 'pong'; id?: string };

/** Server → client frames. */
export type ServerFrame =
  | { type: 'welcome'; data: WelcomeData }
  | { type: 'refreshed'; id?: string; data: RefreshedData }
  | { type: 'message'; data: MessageData }
  | { type: 'direct'; data: DirectData }
  | { type: 'presence'; data: PresenceData }
  | { type: 'occupancy'; data: OccupancyData }
  | { type: 'joined'; id?: string; data: JoinedData }
  | { type: 'left'; id?: string; data: LeftData }
  | { type: 'ack'; id?: string; data: { offset: number; epoch?: string } | { delivered: number } }
  | { type: 'ping'; id?: string }
  | { type: 'pong'; id?: string }
  | { type: 'error'; id?: string; data: ErrorData };

// ---- events ----

export interface StateEvent {
  state: ConnectionState;
  previous: ConnectionState;
}

export interface RecoveredEvent {
  room: string;
  /** True only when every missed message was replayed on the same epoch. */
  recovered: boolean;
  /** The room lost its history (new epoch): resync from your own source. */
  epochChanged: boolean;
  /** Messages delivered by the replay (duplicates dropped). */
  missed: number;
}

/**
 * The room lost its history while this client stayed joined (its host node died, §9.1). Every
 * message of the new epoch was delivered before this event, in order; messages of the old
 * epoch after the last one delivered may be missing: reload what you show from your own source.
 * The cursor is now `epoch`/`offset`, which a reconnect resumes from.
 */
export interface ResyncedEvent {
  room: string;
  /** The new epoch. */
  epoch: string;
  /** The room's offset in the new epoch when the resync ended. */
  offset: number;
  /** Always false from a 1.1 server: history was lost. */
  recovered: boolean;
}

export interface ClosedEvent {
  code: number;
  reason: string;
  willReconnect: boolean;
  /** When willReconnect: the delay before the next attempt, ms. */
  delay?: number;
  /** When not willReconnect: why the client stopped. */
  error?: BrokerError;
}

export interface BrokerClientEvents {
  state: StateEvent;
  welcome: WelcomeData;
  refreshed: RefreshedData;
  message: MessageData;
  direct: DirectData;
  presence: PresenceData;
  occupancy: OccupancyData;
  recovered: RecoveredEvent;
  resynced: ResyncedEvent;
  error: BrokerError;
  closed: ClosedEvent;
}

export interface RoomState {
  epoch: string | null;
  /** The last offset seen in order (the `since` of the next rejoin). */
  offset: number;
  /** Kept only while `membersListed`. */
  members: Set<string>;
  /** Users in the room as the server last said (`joined`, `occupancy`, `presence`). */
  count: number;
  /** Whether the room lists its members (full presence) or sends counts only. */
  membersListed: boolean;
  /** Confirmed by the server on the current connection. */
  joined: boolean;
}

export class BrokerClient {
  constructor(options: BrokerClientOptions);
  readonly state: ConnectionState;
  readonly user: string | null;
  readonly connectionId: string | null;
  readonly welcome: WelcomeData | null;
  readonly expiresAt: number | null;
  /** The transport of the current connection or attempt; null before the first. */
  readonly transport: 'websocket' | 'sse' | null;
  /** Read-only view: rooms joined or being rejoined. */
  readonly rooms: ReadonlyMap<string, Readonly<RoomState>>;

  on<E extends keyof BrokerClientEvents>(event: E, listener: (payload: BrokerClientEvents[E]) => void): () => void;
  off<E extends keyof BrokerClientEvents>(event: E, listener: (payload: BrokerClientEvents[E]) => void): void;

  /** Resolves with the first welcome; rejects (BrokerError) if the client ends up 'closed' first. */
  connect(): Promise<WelcomeData>;
  /** 1000, no reconnect; pending requests reject with 'closed'. */
  close(reason?: string): void;
  join(room: string, options?: { since?: Since }): Promise<JoinedData>;
  leave(room: string): Promise<LeftData>;
  /**
   * Resolves with the ack; join, publish and send are retried after `unavailable` (see RetryOptions).
   * Every publish carries an idempotencyKey (see PublishOptions), the same on each retry.
   */
  publish(room: string, payload: Json | unknown, options?: PublishOptions): Promise<PublishAck>;
  send(user: string, payload: Json | unknown): Promise<{ delivered: number }>;
  /** Round trip in ms. */
  ping(): Promise<number>;
}
