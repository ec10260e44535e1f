/**
 * The Server-Sent Events fallback transport (PROTOCOL §9.4, docs/sse.md) behind the same
 * WebSocket-like surface the client drives (readyState, onopen/onmessage/onclose, send, close),
 * so everything above it (requests, heartbeat, recovery, refresh) is the same code on both.
 * @module
 */

/** At most this many envelopes per POST (the server's `Broker:Sse:MaxPostEnvelopes` default). */
export const MAX_POST_ENVELOPES = 100;

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

/**
 * `ws(s)://host/…/ws/{route}?q` → `http(s)://host/…/sse/{route}?q`: the last `/ws/` segment of
 * the path becomes `/sse/`, so a broker behind a path prefix keeps it.
 * @param {string} wsUrl
 */
export function sseUrlFor(wsUrl) {
  const url = new URL(wsUrl);
  url.protocol = url.protocol === 'wss:' ? 'https:' : url.protocol === 'ws:' ? 'http:' : url.protocol;
  const at = url.pathname.lastIndexOf('/ws/');
  if (at < 0) throw new TypeError(`cannot derive the SSE url from ${url.origin}${url.pathname}: no /ws/ segment (pass options.sseUrl)`);
  url.pathname = `${url.pathname.slice(0, at)}/sse/${url.pathname.slice(at + 4)}`;
  return url.toString();
}

/**
 * Splits a `text/event-stream` into the data of its events (the HTML living standard's
 * parsing rules, reduced to what the broker sends: `data:` lines joined by LF, an event per
 * blank line; comments and other fields ignored). Chunks may split lines anywhere, CRLF included.
 */
export class EventStreamParser {
  #buffer = '';
  #data = null;
  /** A CR ended the last chunk: an LF starting the next one belongs to it. */
  #pendingCr = false;

  /**
   * @param {string} chunk
   * @returns {string[]} the data of each event the chunk completed
   */
  push(chunk) {
    const events = [];
    let text = chunk;
    if (this.#pendingCr && text.startsWith('\n')) text = text.slice(1);
    this.#pendingCr = false;
    this.#buffer += text;
    let start = 0;
    for (let i = 0; i < this.#buffer.length; i++) {
      const c = this.#buffer.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      this.#line(this.#buffer.slice(start, i), events);
      if (c === 13) {
        if (i + 1 < this.#buffer.length) {
          if (this.#buffer.charCodeAt(i + 1) === 10) i++;
        } else {
          this.#pendingCr = true;
        }
      }
      start = i + 1;
    }
    this.#buffer = this.#buffer.slice(start);
    return events;
  }

  #line(line, events) {
    if (line.length === 0) {
      if (this.#data !== null) events.push(this.#data);
      this.#data = null;
      return;
    }
    if (line.charCodeAt(0) === 58) return; // ':' a comment
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    if (field !== 'data') return;
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    this.#data = this.#data === null ? value : `${this.#data}\n${value}`;
  }
}

/**
 * One SSE session: `GET {url}` as the receiving half, `POST {url}/{session}` for what the
 * client sends. Opening is the stream's `welcome` (it carries the session id); the stream's
 * final `close` event (or its end without one: 1006) is the socket's close event.
 *
 * Frames sent in the same tick go out as one POST (a JSON array); while a POST is in flight
 * the next ones wait and go together after it, so the server sees them in the order they were
 * sent and never more than one request at a time.
 */
export class SseSocket {
  readyState = CONNECTING;
  onopen = null;
  onmessage = null;
  onclose = null;
  onerror = null;
  /** Which half reads the stream: 'fetch' (can send a bearer header) or 'eventsource'. */
  stream;

  #url;
  #fetch;
  #authorization;
  #session = null;
  #postUrl = null;
  /** @type {string[]} frames waiting for the next POST */
  #queue = [];
  #flushScheduled = false;
  #posting = false;
  #abort = null;
  #eventSource = null;
  #closeEvent = null;

  /**
   * @param {string} url the stream's URL (`http(s)://…/sse/{route}`, with `?ticket=` when the client uses tickets)
   * @param {object} options
   * @param {Function} options.fetch
   * @param {() => (string | null)} options.authorization the bearer token for the stream (fetch mode) and every POST; null on anonymous routes
   * @param {Function} [options.EventSource] used instead of fetch streaming when given (the URL must then carry the credential)
   */
  constructor(url, { fetch, authorization, EventSource }) {
    this.#url = url;
    this.#fetch = fetch;
    this.#authorization = authorization;
    this.stream = EventSource ? 'eventsource' : 'fetch';
    // Started after the constructor returns, so the caller has attached its handlers.
    queueMicrotask(() => (EventSource ? this.#openEventSource(EventSource) : this.#openFetch()));
  }

  /** The session id from `welcome` (never logged: on anonymous routes it is the credential). */
  get session() { return this.#session; }

  send(text) {
    if (this.readyState !== OPEN) throw new Error('InvalidStateError: the SSE session is not open');
    this.#queue.push(text);
    if (!this.#flushScheduled && !this.#posting) {
      this.#flushScheduled = true;
      queueMicrotask(() => {
        this.#flushScheduled = false;
        this.#post();
      });
    }
  }

  /** Ends the stream, which ends the session on the server (docs/sse.md: one GET is one session). */
  close(code = 1000, reason = '') {
    if (this.readyState >= CLOSING) return;
    this.#stopStream();
    this.#queue.length = 0;
    this.#closeEvent ??= { code, reason };
    this.readyState = CLOSING;
    queueMicrotask(() => this.#closed(true));
  }

  // ---- the stream ----

  async #openFetch() {
    const headers = { Accept: 'text/event-stream' };
    const token = this.#authorization();
    if (token) headers.Authorization = `Bearer ${token}`;
    this.#abort = typeof AbortController === 'function' ? new AbortController() : null;
    let response;
    try {
      response = await this.#fetch(this.#url, { method: 'GET', headers, cache: 'no-store', signal: this.#abort?.signal });
    } catch (error) {
      return this.#fail(1006, `the SSE stream could not be opened: ${error?.message ?? error}`);
    }
    if (this.readyState >= CLOSING) return;
    if (response.status !== 200) return this.#fail(...refusal(response.status));
    const reader = response.body?.getReader?.();
    if (!reader) return this.#fail(1006, 'this fetch cannot stream a response body (pass options.EventSource)');
    const decoder = new TextDecoder();
    const parser = new EventStreamParser();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (this.readyState >= CLOSING) return;
        if (done) break;
        for (const data of parser.push(decoder.decode(value, { stream: true }))) {
          this.#onEvent(data);
          if (this.readyState >= CLOSING) return;
        }
      }
    } catch {
      // A dropped connection: the stream ends without its close event, as a socket's 1006.
    }
    this.#ended();
  }

  #openEventSource(EventSourceImpl) {
    let source;
    try {
      source = new EventSourceImpl(this.#url);
    } catch (error) {
      return this.#fail(1006, `the EventSource could not be opened: ${error?.message ?? error}`);
    }
    this.#eventSource = source;
    source.onmessage = (event) => {
      if (this.#eventSource === source) this.#onEvent(event.data);
    };
    // An EventSource reconnects by itself after any end, with the same (spent) ticket: stop
    // it at the first error and let the client reconnect with new credentials and `since`.
    source.onerror = () => {
      if (this.#eventSource !== source) return;
      this.#ended();
    };
  }

  #stopStream() {
    this.#abort?.abort();
    this.#abort = null;
    if (this.#eventSource) {
      const source = this.#eventSource;
      this.#eventSource = null;
      source.onmessage = source.onerror = null;
      source.close();
    }
  }

  #onEvent(data) {
    // Only the final event is the transport's own; a cheap test first keeps a second parse
    // off every other event (the client parses those).
    if (data.includes('"close"')) {
      let frame = null;
      try { frame = JSON.parse(data); } catch { /* the client reports it */ }
      if (frame?.type === 'close') {
        this.#closeEvent = { code: Number(frame.data?.code) || 1006, reason: String(frame.data?.reason ?? '') };
        return;
      }
    }
    if (this.readyState === CONNECTING) {
      let session = null;
      try { session = JSON.parse(data)?.data?.session ?? null; } catch { /* below */ }
      if (typeof session !== 'string' || session.length === 0) {
        return this.#fail(1006, 'the SSE stream did not start with a welcome carrying a session');
      }
      this.#session = session;
      this.#postUrl = `${this.#url.split(/[?#]/)[0]}/${encodeURIComponent(session)}`;
      this.readyState = OPEN;
      this.onopen?.({ type: 'open' });
      if (this.readyState !== OPEN) return;
    }
    this.onmessage?.({ data });
  }

  /** The stream ended: with its close event's code, or 1006 when it just stopped. */
  #ended() {
    if (this.readyState >= CLOSING) return;
    this.#stopStream();
    this.readyState = CLOSING;
    this.#closed(this.#closeEvent !== null);
  }

  #fail(code, reason) {
    if (this.readyState >= CLOSING) return;
    this.#closeEvent ??= { code, reason };
    this.#ended();
  }

  #closed(wasClean) {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    const { code, reason } = this.#closeEvent ?? { code: 1006, reason: '' };
    if (code === 1006) this.onerror?.({ type: 'error' });
    this.onclose?.({ code, reason, wasClean });
  }

  // ---- the POSTs ----

  async #post() {
    if (this.readyState !== OPEN || this.#queue.length === 0) return;
    const batch = this.#queue.splice(0, MAX_POST_ENVELOPES);
    this.#posting = true;
    const headers = { 'Content-Type': 'application/json' };
    const token = this.#authorization();
    if (token) headers.Authorization = `Bearer ${token}`;
    let response;
    try {
      response = await this.#fetch(this.#postUrl, {
        method: 'POST',
        headers,
        body: batch.length === 1 ? batch[0] : `[${batch.join(',')}]`,
        cache: 'no-store',
      });
    } catch (error) {
      this.#posting = false;
      return this.#fail(1006, `a POST to the SSE session failed: ${error?.message ?? error}`);
    }
    this.#posting = false;
    if (this.readyState !== OPEN) return;
    if (response.status === 202) return this.#post();
    if (response.status === 400) {
      // Nothing of the body was applied and the session stays: answer each request with the
      // server's error, as a WebSocket would have, so its promise rejects now.
      const body = await response.json().catch(() => null);
      this.#rejectBatch(batch, body?.code ?? 'bad_request', body?.error ?? 'the server refused the POST (HTTP 400)');
      return this.#post();
    }
    if (response.status === 401) return this.#fail(4401, 'the POST token was refused');
    if (response.status === 403) return this.#fail(4403, 'the origin may not POST to this route');
    // 404: the session ended (its close event is on the stream, or the stream is gone); 5xx.
    this.#fail(1006, `the SSE session answered HTTP ${response.status}`);
  }

  #rejectBatch(batch, code, message) {
    for (const text of batch) {
      let id;
      try { id = JSON.parse(text)?.id; } catch { /* the client only sends JSON */ }
      if (typeof id === 'string') this.onmessage?.({ data: JSON.stringify({ type: 'error', id, data: { code, message } }) });
    }
  }
}

/** What an HTTP refusal of the stream means as a close code (docs/sse.md: the checks of /ws). */
function refusal(status) {
  switch (status) {
    case 401: return [4401, 'the SSE stream was refused: unauthorized (HTTP 401)'];
    case 403: return [4403, 'the SSE stream was refused: origin not allowed (HTTP 403)'];
    case 400: return [4400, 'the SSE stream was refused: bad request (HTTP 400)'];
    case 404: return [4404, 'the broker serves no SSE stream at this url (HTTP 404)'];
    case 406: return [4406, 'the SSE stream was refused: not acceptable (HTTP 406)'];
    // 429 (too many connections from the address), 503 (not ready): back off and retry.
    default: return [1006, `the SSE stream was refused (HTTP ${status})`];
  }
}
