// End-to-end: the chat demo page in headless Chromium, two users, a server-side disconnect, and
// recovery of the messages sent meanwhile.
//
//   node chat-demo.e2e.mjs <baseUrl> <apiKey> <screenshotPath> [historySize]
//
// With historySize (the broker's Broker:Rooms:HistorySize) a later step overflows the history
// while alice is away, to check the page warns that messages were lost.
// Exit code 0 when every step passed. Broker.Tests/Browser/ChatDemoBrowserTests starts the broker
// and runs this; it can also be aimed at `dotnet run --project Broker.Host --Broker:ApiKey=…`.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { assert, by, launchChromium, startRunTimer, step, STEP_MS } from './harness.mjs';
import { say, signIn, waitForMember, waitForMessages, waitForState, watchPage } from './chat-page.mjs';

const [baseUrl, apiKey, screenshotPath, historyArg] = process.argv.slice(2);
const historySize = historyArg ? Number(historyArg) : undefined;
if (!baseUrl || !apiKey || !screenshotPath) {
  console.error('usage: node chat-demo.e2e.mjs <baseUrl> <apiKey> <screenshotPath> [historySize]');
  process.exit(64);
}

const runTimer = startRunTimer();

const pageErrors = [];


async function openAs(browser, name) {
  const context = await browser.newContext({ viewport: { width: 1180, height: 760 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  watchPage(page, name, pageErrors);
  await signIn(page, baseUrl, name);
  return page;
}

/** The room messages shown, in page order. */
function shownMessages(page) {
  return page.$$eval('[data-testid="message"]', (items) => items.map((item) => ({
    from: item.dataset.from,
    offset: Number(item.dataset.offset),
    text: item.querySelector('[data-testid="message-text"]').textContent,
    own: item.classList.contains('own'),
  })));
}

/** The path of a screenshot next to the main one: `<screenshotPath without .png><suffix>.png`. */
const shotPath = (suffix) => path.resolve(suffix ? screenshotPath.replace(/\.png$/, '') + suffix + '.png' : screenshotPath);

/** Saves alice's page (the main screenshot, plus `suffix`) and bob's; never throws (a failure is being reported). */
async function screenshots(suffix = '') {
  try {
    await mkdir(path.dirname(shotPath(suffix)), { recursive: true });
    if (alice) {
      await alice.screenshot({ path: shotPath(suffix), timeout: STEP_MS, animations: 'disabled' });
      console.log(`screenshot: ${shotPath(suffix)}`);
    }
    if (bob) await bob.screenshot({ path: shotPath(suffix + '-bob'), timeout: STEP_MS, animations: 'disabled' });
  } catch (error) {
    console.error(`could not save a screenshot: ${error.message}`);
  }
}

/**
 * Holds the page's ticket requests, so its reconnect waits until `release()`: what happens
 * meanwhile happens while it is certainly offline (no timing luck involved).
 */
async function holdReconnects(page) {
  let release;
  const released = new Promise((resolve) => { release = resolve; });
  let requested;
  const held = new Promise((resolve) => { requested = resolve; });
  const inFlight = [];
  await page.route('**/auth/ticket', (route) => {
    requested();
    const handled = released.then(() => route.continue());
    inFlight.push(handled);
    return handled;
  });
  const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('no new ticket was asked for')), STEP_MS));
  timeout.catch(() => {}); // only awaited through asked()
  return {
    /** Resolves once the page asked for a ticket (it is trying to reconnect). */
    asked: () => Promise.race([held, timeout]),
    release: async () => {
      release();
      // Unrouting while a held request is still being continued would handle it twice.
      await Promise.all(inFlight);
      await page.unroute('**/auth/ticket');
    },
  };
}

async function disconnect(user, reconnect = true) {
  const response = await fetch(new URL(`/api/users/${encodeURIComponent(user)}/disconnect`, baseUrl), {
    method: 'POST',
    headers: { 'X-Api-Key': apiKey, 'Content-Type': 'application/json' },
    body: JSON.stringify({ reconnect }),
    signal: AbortSignal.timeout(STEP_MS),
  });
  const body = await response.text();
  assert(response.status === 202, `disconnect answered ${response.status}: ${body}`);
  return JSON.parse(body).disconnected;
}

const browser = await launchChromium();

let alice;
let bob;
let failed = false;
try {
  await step('alice and bob open the demo, pick names and are connected in the lobby', async () => {
    [alice, bob] = await Promise.all([openAs(browser, 'alice'), openAs(browser, 'bob')]);
  });

  await step('each sees the other in the members list', async () => {
    await waitForMember(alice, 'bob');
    await waitForMember(bob, 'alice');
  });

  await step('they chat both ways; own messages are marked as own', async () => {
    await say(alice, 'hi bob');
    await waitForMessages(bob, ['hi bob']);
    await say(bob, 'hi alice, how are you?');
    await waitForMessages(alice, ['hi alice, how are you?']);
    const seenByAlice = await shownMessages(alice);
    assert(seenByAlice.find((m) => m.text === 'hi bob')?.own === true, 'alice\'s own message is not marked own');
    assert(seenByAlice.find((m) => m.text.startsWith('hi alice'))?.own === false, 'bob\'s message is marked as alice\'s own');
  });

  await step('markup in a message is shown as text, never run', async () => {
    const hostile = '<img src=x onerror="window.__pwned=1"> <b>bold?</b>';
    await say(bob, hostile);
    await waitForMessages(alice, [hostile]);
    const injected = await alice.evaluate(() => ({
      pwned: window.__pwned === 1,
      elements: document.querySelectorAll('[data-testid="message-list"] img, [data-testid="message-list"] b').length,
    }));
    assert(!injected.pwned && injected.elements === 0, `message markup was interpreted: ${JSON.stringify(injected)}`);
  });

  await step('a back-end publish (POST /api/publish) with a nonsense timestamp is shown, from "server"', async () => {
    const response = await fetch(new URL('/api/publish', baseUrl), {
      method: 'POST',
      headers: { 'X-Api-Key': apiKey, 'Content-Type': 'application/json' },
      body: JSON.stringify({ room: 'lobby', payload: { text: 'maintenance at noon', sentAt: 1e300 } }),
      signal: AbortSignal.timeout(STEP_MS),
    });
    assert(response.status === 202, `publish answered ${response.status}`);
    await waitForMessages(alice, ['maintenance at noon']);
    await waitForMessages(bob, ['maintenance at noon']);
    const fromServer = (await shownMessages(alice)).find((m) => m.text === 'maintenance at noon');
    assert(fromServer?.from === 'server', `the API message is from ${fromServer?.from}`);
  });

  const missed = ['while you were away 1', 'while you were away 2', 'while you were away 3'];
  let hold;
  await step('the server disconnects alice (POST /api/users/alice/disconnect); her page shows reconnecting', async () => {
    hold = await holdReconnects(alice);
    const closed = await disconnect('alice');
    assert(closed >= 1, `disconnect closed ${closed} connections`);
    await waitForState(alice, 'reconnecting');
    await hold.asked();
  });

  await step('bob sees alice leave and sends three messages while she is away', async () => {
    await waitForMember(bob, 'alice', false);
    for (const text of missed) await say(bob, text);
  });

  await step('alice reconnects, recovers the three messages in order without duplicates, and is connected again', async () => {
    await hold.release();
    await waitForState(alice, 'connected');
    await waitForMessages(alice, missed);
    await alice.locator(by('system-note'), { hasText: 'recovered 3 missed messages' }).waitFor();
    await alice.locator(by('state-badge'), { hasText: 'recovered 3' }).waitFor(); // shown for a few seconds
    const shown = await shownMessages(alice);
    const texts = shown.map((m) => m.text);
    assert(new Set(texts).size === texts.length, `duplicates shown: ${JSON.stringify(texts)}`);
    const offsets = shown.map((m) => m.offset);
    assert(offsets.every((offset, i) => i === 0 || offset > offsets[i - 1]), `messages out of order: ${JSON.stringify(offsets)}`);
    const tail = texts.slice(-missed.length);
    assert(JSON.stringify(tail) === JSON.stringify(missed), `last messages are ${JSON.stringify(tail)}`);
  });

  await step('bob sees alice back, and live chat works again both ways', async () => {
    await waitForMember(bob, 'alice');
    await say(alice, 'back! thanks for waiting');
    await waitForMessages(bob, ['back! thanks for waiting']);
    await say(bob, 'welcome back!');
    await waitForMessages(alice, ['welcome back!']);
    await waitForState(alice, 'connected');
  });

  await step('bob clicks alice in the members list and sends her a direct message', async () => {
    await bob.click(`${by('member')}[data-user="alice"]`);
    await bob.locator(by('composer-input')).press('End');
    await bob.locator(by('composer-input')).pressSequentially('psst, only for you');
    await bob.press(by('composer-input'), 'Enter');
    await alice.locator(by('direct-message'), { hasText: 'psst, only for you' }).waitFor();
    await bob.locator(by('direct-message'), { hasText: 'psst, only for you' }).waitFor();
  });

  await step('alice joins a second room; lobby messages meanwhile show as unread; she returns and leaves it', async () => {
    await alice.fill(by('room-input'), 'random');
    await alice.press(by('room-input'), 'Enter');
    await alice.locator(`${by('room-item')}[data-room="random"][aria-current="true"]`).waitFor();
    await alice.locator(by('room-title'), { hasText: '#random' }).waitFor();
    assert(await alice.locator(by('member')).count() === 1, 'random should have alice alone');
    await say(bob, 'anyone in the lobby?');
    await alice.locator(`${by('room-item')}[data-room="lobby"] .unread`, { hasText: '1' }).waitFor();
    await alice.click(`${by('room-item')}[data-room="lobby"] button`);
    await waitForMessages(alice, ['anyone in the lobby?']);
    await alice.click(`${by('room-item')}[data-room="random"] button`);
    await alice.click(by('leave-room'));
    await alice.locator(`${by('room-item')}[data-room="random"]`).waitFor({ state: 'detached' });
    await alice.locator(by('room-title'), { hasText: '#lobby' }).waitFor();
  });

  await step('screenshots of both pages, and of bob\'s on a phone-sized screen', async () => {
    await screenshots();
    await bob.setViewportSize({ width: 390, height: 760 });
    await bob.screenshot({ path: shotPath('-mobile'), timeout: STEP_MS, animations: 'disabled' });
    await bob.setViewportSize({ width: 1180, height: 760 });
  });

  if (historySize) {
    await step(`more messages than the history holds (${historySize}) while alice is away: she is warned`, async () => {
      const away = await holdReconnects(alice);
      await disconnect('alice');
      await waitForState(alice, 'reconnecting');
      await away.asked();
      const burst = Array.from({ length: historySize + 2 }, (_, i) => `burst ${i + 1}`);
      for (const text of burst) await say(bob, text);
      await away.release();
      await waitForState(alice, 'connected');
      await alice.locator(by('system-note'), { hasText: 'could not be recovered' }).waitFor();
      await waitForMessages(alice, burst.slice(-historySize)); // what the history still had
      const shown = (await shownMessages(alice)).map((m) => m.text);
      assert(!shown.includes('burst 1'), 'a message older than the history was shown');
      await alice.screenshot({ path: shotPath('-history-lost'), timeout: STEP_MS, animations: 'disabled' });
    });
  } else {
    console.log('skip history overflow (no historySize argument)');
  }

  await step('a disconnect with reconnect=false (4403) leaves bob disconnected, told why', async () => {
    await disconnect('bob', false);
    await waitForState(bob, 'closed');
    await bob.locator(by('notice'), { hasText: 'disconnected (4403)' }).waitFor();
    await waitForMember(alice, 'bob', false);
    await bob.screenshot({ path: shotPath('-closed-bob'), timeout: STEP_MS, animations: 'disabled' });
  });

  assert(pageErrors.length === 0, `errors in the page: ${pageErrors.join('; ')}`);
} catch (error) {
  failed = true;
  console.error(`FAIL: ${error.stack || error}`);
  if (pageErrors.length) console.error(`page errors: ${pageErrors.join('; ')}`);
} finally {
  if (failed) await screenshots('-failure');
  await browser.close();
  clearTimeout(runTimer);
}
process.exit(failed ? 1 : 0);
