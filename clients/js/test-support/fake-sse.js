/**
 * A scriptable SSE broker behind a fake `fetch` (and a fake `EventSource`): the test plays the
 * server (welcome, events, the final close event, POST answers) and reads what the client sent.
 * Streams are real ReadableStreams, so the client's streaming reader and event parser are the
 * code under test, byte for byte. Ticket requests (`POST …/auth/ticket`) answer `T-<n>`.
 */
export function createFakeSse() {
  /** @type {FakeStream[]} every GET of an event stream, in order */
  const streams = [];
  /** @type {{ url: string, headers: Record<string, string>, body: string, frames: any[] }[]} every POST to a session */
  const posts = [];
  /** @type {{ url: string, authorization: string }[]} */
  const tickets = [];
  /** Answers of the next POSTs (status, body); 202 `{"accepted":n}` when none is queued. */
  const postAnswers = [];
  /** POSTs held until release(): lets a test send more while one is in flight. */
  let holdPosts = null;

  const fetch = async (url, init = {}) => {
    const method = init.method ?? 'GET';
    if (method === 'POST' && String(url).endsWith('/auth/ticket')) {
      tickets.push({ url, authorization: init.headers?.Authorization });
      return json(200, { ticket: `T-${tickets.length}`, expiresIn: 30 });
    }
    if (method === 'GET') {
      const stream = new FakeStream(url, init);
      streams.push(stream);
      if (stream.refusedWith) return json(stream.refusedWith, { error: 'refused', code: 'refused' });
      return stream.response();
    }
    const body = String(init.body);
    const parsed = JSON.parse(body);
    posts.push({ url, headers: init.headers ?? {}, body, frames: Array.isArray(parsed) ? parsed : [parsed] });
    if (holdPosts) await holdPosts.promise;
    const answer = postAnswers.shift() ?? { status: 202, body: { accepted: Array.isArray(parsed) ? parsed.length : 1 } };
    return json(answer.status, answer.body);
  };

  /** The next GET is refused with this HTTP status. */
  let refuseNext = null;
  class FakeStream {
    url;
    headers;
    controller = null;
    closedByClient = false;
    refusedWith = null;

    constructor(url, init) {
      this.url = String(url);
      this.headers = init.headers ?? {};
      if (refuseNext) {
        this.refusedWith = refuseNext;
        refuseNext = null;
      }
      init.signal?.addEventListener('abort', () => {
        this.closedByClient = true;
        try { this.controller?.error(new Error('aborted')); } catch { /* already ended */ }
      });
    }

    response() {
      const body = new ReadableStream({ start: (controller) => { this.controller = controller; } });
      return { ok: true, status: 200, headers: { get: () => 'text/event-stream' }, body };
    }

    /** Writes raw text to the stream (tests of the event parser split it anywhere). */
    write(text) {
      this.controller.enqueue(new TextEncoder().encode(text));
    }

    /** One event: `data:` lines of the frame's JSON, then a blank line. */
    event(frame) {
      const json = typeof frame === 'string' ? frame : JSON.stringify(frame);
      this.write(json.split('\n').map((line) => `data: ${line}\n`).join('') + '\n');
    }

    welcome(data = {}) {
      this.event({ type: 'welcome', data: { connection: 'c1', user: 'alice', node: 'n1', expiresAt: null, heartbeat: { interval: 25000, timeout: 10000 }, session: 'S-1', ...data } });
    }

    /** The broker ends the stream: its close event, then the end of the response. */
    close(code, reason = '') {
      this.event({ type: 'close', data: { code, reason } });
      this.end();
    }

    /** The response ends (without a close event: the connection dropped). */
    end() {
      try { this.controller.close(); } catch { /* already ended */ }
    }
  }

  /** An EventSource on the same fake streams (what a browser page with a ticket uses). */
  class FakeEventSource {
    static instances = [];
    onmessage = null;
    onerror = null;
    closed = false;
    constructor(url) {
      this.url = String(url);
      FakeEventSource.instances.push(this);
    }
    close() { this.closed = true; }
    // ---- the server side ----
    event(frame) { this.onmessage?.({ data: typeof frame === 'string' ? frame : JSON.stringify(frame) }); }
    welcome(data = {}) {
      this.event({ type: 'welcome', data: { connection: 'c1', user: 'alice', heartbeat: { interval: 25000, timeout: 10000 }, session: 'S-1', ...data } });
    }
    /** The stream ends, which an EventSource reports as an error (and would reconnect after). */
    fail() { this.onerror?.({ type: 'error' }); }
  }

  return {
    fetch,
    streams,
    posts,
    tickets,
    postAnswers,
    EventSource: FakeEventSource,
    get lastStream() { return streams.at(-1); },
    /** Every frame POSTed, in order, across POSTs. */
    get postedFrames() { return posts.flatMap((p) => p.frames); },
    refuseNextStream(status) { refuseNext = status; },
    /** Holds every POST until the returned function is called. */
    holdPosts() {
      let release;
      holdPosts = { promise: new Promise((resolve) => { release = resolve; }) };
      return () => { holdPosts = null; release(); };
    },
  };
}

function json(status, body) {
  return { ok: status >= 200 && status < 300, status, json: async () => body };
}
