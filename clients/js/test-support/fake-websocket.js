/**
 * A scriptable stand-in for the browser WebSocket: the test plays the server (open, frames,
 * close) and reads what the client sent. Every instance is recorded in order.
 */
export function createFakeWebSocket() {
  class FakeWebSocket {
    static CONNECTING = 0;
    static OPEN = 1;
    static CLOSING = 2;
    static CLOSED = 3;
    /** @type {FakeWebSocket[]} */
    static instances = [];
    static get last() { return FakeWebSocket.instances.at(-1); }

    readyState = 0;
    onopen = null;
    onmessage = null;
    onclose = null;
    onerror = null;
    /** Frames the client sent, parsed. */
    sent = [];
    /** The code and reason the client closed with, if it did. */
    closedBy = null;

    constructor(url) {
      this.url = url;
      FakeWebSocket.instances.push(this);
    }

    send(text) {
      if (this.readyState !== 1) throw new Error('InvalidStateError: not open');
      this.sent.push(JSON.parse(text));
    }

    close(code, reason) {
      this.closedBy = { code, reason };
      if (this.readyState >= 2) return;
      this.readyState = 2;
      // A real socket reports the close later; a client that still listened would see it.
      queueMicrotask(() => this.#closed(code ?? 1005, reason ?? '', true));
    }

    // ---- the server side ----

    open() {
      this.readyState = 1;
      this.onopen?.({ type: 'open' });
    }

    /** Delivers a server frame (an object is serialized). */
    receive(frame) {
      this.onmessage?.({ data: typeof frame === 'string' ? frame : JSON.stringify(frame) });
    }

    /** The server closes with a code (or the network dies: 1006). */
    serverClose(code, reason = '') {
      if (code === 1006) this.onerror?.({ type: 'error' });
      this.#closed(code, reason, code !== 1006);
    }

    /** Opens and answers the auth frame with a welcome (what a healthy server does). */
    accept(welcome = {}) {
      this.open();
      this.receive({ type: 'welcome', data: { connection: 'c1', user: 'alice', node: 'n1', expiresAt: null, heartbeat: { interval: 25000, timeout: 10000 }, ...welcome } });
    }

    /** Sent frames of one type. */
    sentOf(type) {
      return this.sent.filter((f) => f.type === type);
    }

    lastSent(type) {
      return this.sentOf(type).at(-1);
    }

    #closed(code, reason, wasClean) {
      if (this.readyState === 3) return;
      this.readyState = 3;
      this.onclose?.({ code, reason, wasClean });
    }
  }
  return FakeWebSocket;
}
