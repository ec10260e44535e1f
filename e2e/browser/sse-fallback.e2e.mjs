// End-to-end: the chat demo in headless Chromium when the page cannot open a WebSocket (a proxy
// that strips Upgrade, as the page sees it): the client library falls back to Server-Sent Events
// by itself, with no change to the demo's code. Alice's WebSocket is blocked, bob's is not; they
// chat both ways, alice is disconnected server-side and recovers what she missed over SSE; then a
// plain EventSource (no SDK) on the receive-only route receives a room's notifications.
//
//   node sse-fallback.e2e.mjs <baseUrl> <apiKey> <screenshotPath>
//
// Exit code 0 when every step passed. Broker.Tests/Demo/ChatDemoBrowserTests runs this.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { assert, by, launchChromium, startRunTimer, step, STEP_MS } from './harness.mjs';
import { say, signIn, waitForMember, waitForMessages, waitForState, watchPage } from './chat-page.mjs';

const [baseUrl, apiKey, screenshotPath] = process.argv.slice(2);
if (!baseUrl || !apiKey || !screenshotPath) {
  console.error('usage: node sse-fallback.e2e.mjs <baseUrl> <apiKey> <screenshotPath>');
  process.exit(64);
}

const runTimer = startRunTimer();

const pageErrors = [];

/**
 * Runs before any page script: every WebSocket fails to connect, as one behind a proxy that
 * strips `Upgrade` does (error, then close 1006, never open). Counts the attempts.
 */
function blockWebSocket() {
  window.__webSocketAttempts = 0;
  window.WebSocket = class BlockedWebSocket extends EventTarget {
    static CONNECTING = 0;
    static OPEN = 1;
    static CLOSING = 2;
    static CLOSED = 3;
    constructor(url) {
      super();
      window.__webSocketAttempts++;
      this.url = String(url);
      this.readyState = 0;
      this.onopen = this.onmessage = this.onclose = this.onerror = null;
      setTimeout(() => {
        this.readyState = 3;
        this.onerror?.(new Event('error'));
        this.onclose?.({ code: 1006, reason: '', wasClean: false });
      }, 20);
    }
    send() { throw new DOMException('the WebSocket is not open', 'InvalidStateError'); }
    close() { this.readyState = 3; }
  };
}

/** Opens the demo as `name`; `requests` collects the SSE requests the page makes (no query strings: they carry tickets). */
async function openAs(browser, name, { blocked }) {
  const context = await browser.newContext({ viewport: { width: 1180, height: 760 }, deviceScaleFactor: 1 });
  if (blocked) await context.addInitScript(blockWebSocket);
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  page.sse = [];
  page.sockets = 0;
  watchPage(page, name, pageErrors);
  page.on('websocket', () => page.sockets++);
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (url.pathname.startsWith('/sse/')) page.sse.push(`${request.method()} ${url.pathname.replace(/\/sse\/chat\/.+$/, '/sse/chat/{session}')}`);
  });
  await signIn(page, baseUrl, name);
  return page;
}


async function api(pathname, body) {
  const response = await fetch(new URL(pathname, baseUrl), {
    method: 'POST',
    headers: { 'X-Api-Key': apiKey, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(STEP_MS),
  });
  const text = await response.text();
  assert(response.status === 202, `${pathname} answered ${response.status}: ${text}`);
  return JSON.parse(text);
}

const browser = await launchChromium();

let alice;
let bob;
let failed = false;
try {
  await step('alice (WebSocket blocked) and bob (WebSocket) open the demo and are connected in the lobby', async () => {
    [alice, bob] = await Promise.all([openAs(browser, 'alice', { blocked: true }), openAs(browser, 'bob', { blocked: false })]);
    await waitForMember(alice, 'bob');
    await waitForMember(bob, 'alice');
  });

  await step('alice is on SSE after her WebSockets failed to open; bob is on a WebSocket', async () => {
    const attempts = await alice.evaluate(() => window.__webSocketAttempts);
    assert(attempts >= 2, `alice tried ${attempts} WebSockets before SSE`);
    assert(alice.sockets === 0, 'alice opened a real WebSocket');
    assert(alice.sse.includes('GET /sse/chat'), `alice made no SSE stream: ${JSON.stringify(alice.sse)}`);
    assert(alice.sse.includes('POST /sse/chat/{session}'), 'alice POSTed nothing (her join)');
    assert(bob.sockets >= 1 && bob.sse.length === 0, `bob: ${bob.sockets} sockets, SSE ${JSON.stringify(bob.sse)}`);
  });

  await step('they chat both ways', async () => {
    await say(alice, 'hi bob, over SSE');
    await waitForMessages(bob, ['hi bob, over SSE']);
    await say(bob, 'hi alice, over a WebSocket');
    await waitForMessages(alice, ['hi alice, over a WebSocket']);
  });

  await step('a direct message from bob reaches alice over SSE', async () => {
    await bob.click(`${by('member')}[data-user="alice"]`);
    await bob.locator(by('composer-input')).press('End');
    await bob.locator(by('composer-input')).pressSequentially('psst');
    await bob.press(by('composer-input'), 'Enter');
    await alice.locator(by('direct-message'), { hasText: 'psst' }).waitFor();
  });

  const missed = ['while away 1', 'while away 2'];
  await step('the server disconnects alice; she reconnects over SSE and recovers what bob said meanwhile', async () => {
    // Her reconnect waits on a ticket, held until bob has spoken: she is certainly away meanwhile.
    let release;
    const released = new Promise((resolve) => { release = resolve; });
    let asked;
    const askedForTicket = new Promise((resolve) => { asked = resolve; });
    const held = [];
    await alice.route('**/auth/ticket', (route) => {
      asked();
      const handled = released.then(() => route.continue());
      held.push(handled);
      return handled;
    });
    await api('/api/users/alice/disconnect', { reconnect: true });
    await waitForState(alice, 'reconnecting');
    await askedForTicket;
    await waitForMember(bob, 'alice', false);
    await bob.fill(by('composer-input'), '');
    for (const text of missed) await say(bob, text);
    release();
    await Promise.all(held);
    await alice.unroute('**/auth/ticket');
    await waitForState(alice, 'connected');
    await waitForMessages(alice, missed);
    await alice.locator(by('system-note'), { hasText: 'recovered 2 missed messages' }).waitFor();
    assert(alice.sockets === 0, 'alice opened a real WebSocket');
    await say(alice, 'back, still over SSE');
    await waitForMessages(bob, ['back, still over SSE']);
  });

  await step('screenshots of both pages', async () => {
    await mkdir(path.dirname(path.resolve(screenshotPath)), { recursive: true });
    await alice.screenshot({ path: path.resolve(screenshotPath), timeout: STEP_MS, animations: 'disabled' });
    await bob.screenshot({ path: path.resolve(screenshotPath.replace(/\.png$/, '') + '-bob.png'), timeout: STEP_MS, animations: 'disabled' });
    console.log(`screenshot: ${path.resolve(screenshotPath)}`);
  });

  await step('a plain EventSource on /sse/notifications?ticket=…&rooms=alerts,news receives both rooms\' notifications', async () => {
    const page = await (await browser.newContext()).newPage();
    page.on('pageerror', (error) => pageErrors.push(`carol: ${error.message}`));
    await page.goto(baseUrl, { waitUntil: 'load' }); // same origin: the ticket's IP and the route's Origin rule
    await page.evaluate(async () => {
      const { token } = await (await fetch('/auth/dev-token?user=carol', { method: 'POST' })).json();
      const { ticket } = await (await fetch('/auth/ticket', { method: 'POST', headers: { Authorization: `Bearer ${token}` } })).json();
      window.__events = [];
      const source = new EventSource(`/sse/notifications?ticket=${encodeURIComponent(ticket)}&rooms=alerts,news`);
      source.onmessage = (event) => window.__events.push(JSON.parse(event.data));
    });
    await page.waitForFunction(() => window.__events.filter((e) => e.type === 'joined').length === 2, null, { timeout: STEP_MS });
    await api('/api/publish', { room: 'alerts', payload: { text: 'disk almost full' } });
    await api('/api/publish', { room: 'news', payload: { text: 'release 1.1' } });
    await page.waitForFunction(() => window.__events.filter((e) => e.type === 'message').length === 2, null, { timeout: STEP_MS });
    const events = await page.evaluate(() => window.__events);
    assert(events[0].type === 'welcome' && events[0].data.user === 'carol', `first event: ${JSON.stringify(events[0])}`);
    const messages = events.filter((e) => e.type === 'message').map((e) => `${e.data.room}:${e.data.payload.text}`);
    assert(JSON.stringify(messages) === JSON.stringify(['alerts:disk almost full', 'news:release 1.1']), `messages: ${JSON.stringify(messages)}`);
  });

  assert(pageErrors.length === 0, `errors in the page: ${pageErrors.join('; ')}`);
} catch (error) {
  failed = true;
  console.error(`FAIL: ${error.stack || error}`);
  if (pageErrors.length) console.error(`page errors: ${pageErrors.join('; ')}`);
  try {
    if (alice) await alice.screenshot({ path: path.resolve(screenshotPath.replace(/\.png$/, '') + '-failure.png'), timeout: STEP_MS });
  } catch { /* reporting the failure matters more */ }
} finally {
  await browser.close();
  clearTimeout(runTimer);
}
process.exit(failed ? 1 : 0);
