// End-to-end: the operator console (/admin) in headless Chromium on a live cluster.
//
//   node admin-console.e2e.mjs <baseUrl> <apiKey> <screenshot401Path> <screenshotPath> <user> <room> <nodes>
//
// (a) /admin without credentials answers 401 with the sign-in page; (b) signed in with the API
// key, the console shows <nodes> answering members, charts whose points change from one second to
// the next, <room> among the busiest rooms, <user> found with two connections, and after the
// disconnect button (confirmed) the user's connections gone.
// Exit code 0 when every step passed. Broker.Tests/Observability/AdminConsoleBrowserTests starts
// the cluster and runs this; it can also be aimed at a running broker whose <user> is connected twice.
import path from 'node:path';
import { assert, by, launchChromium, startRunTimer, step, STEP_MS } from './harness.mjs';

const [baseUrl, apiKey, unauthorizedShot, consoleShot, user, room, nodesArg] = process.argv.slice(2);
if (!baseUrl || !apiKey || !unauthorizedShot || !consoleShot || !user || !room || !nodesArg) {
  console.error('usage: node admin-console.e2e.mjs <baseUrl> <apiKey> <screenshot401Path> <screenshotPath> <user> <room> <nodes>');
  process.exit(64);
}
const nodes = Number(nodesArg);

const runTimer = startRunTimer();

const pageErrors = [];

/** What each chart holds now: its number of points and its latest values. */
function chartState(page) {
  return page.evaluate(() => ['connections', 'publishes', 'deliveries'].map((name) => {
    const element = document.getElementById('chart-' + name);
    return { name, points: Number(element.dataset.points || 0), last: element.dataset.last || '', canvas: !!element.querySelector('canvas') };
  }));
}

const browser = await launchChromium();

let page;
let failed = false;
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1100 }, deviceScaleFactor: 1 });
  page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') console.log(`     [console] ${message.text()}`);
  });

  await step('/admin without credentials answers 401 with the sign-in page', async () => {
    const response = await page.goto(new URL('/admin', baseUrl).toString(), { waitUntil: 'load' });
    assert(response.status() === 401, `expected 401, got ${response.status()}`);
    await page.locator('#credential').waitFor();
    assert(await page.locator(by('members')).count() === 0, 'the sign-in page shows console panels');
    await page.screenshot({ path: path.resolve(unauthorizedShot), timeout: STEP_MS, animations: 'disabled' });
    console.log(`screenshot: ${path.resolve(unauthorizedShot)}`);
  });

  await step('a wrong key is refused on the sign-in page', async () => {
    await page.fill('#credential', 'not-the-key');
    await page.click('#signin button');
    await page.locator('#why', { hasText: 'not accepted' }).waitFor();
  });

  await step(`signed in with the API key, the console lists ${nodes} answering members`, async () => {
    await page.fill('#credential', apiKey);
    await page.click('#signin button');
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="member"][data-answered="true"][data-status="Up"]').length === n,
      nodes, { timeout: STEP_MS });
    const self = await page.locator(by('self-node')).textContent();
    assert(self && self !== '–', 'the node the console is on is not named');
    assert(await page.locator('.badge.leader').count() === 1, 'no single leader badge');
  });

  await step('the charts draw points that change from one second to the next', async () => {
    await page.waitForFunction(() => ['connections', 'publishes', 'deliveries']
      .every((name) => Number(document.getElementById('chart-' + name).dataset.points || 0) >= 3), null, { timeout: STEP_MS });
    const before = await chartState(page);
    assert(before.every((c) => c.canvas), `a chart has no canvas: ${JSON.stringify(before)}`);
    await page.waitForFunction((earlier) => earlier.every((c) => {
      const element = document.getElementById('chart-' + c.name);
      return Number(element.dataset.points || 0) > c.points || (element.dataset.last || '') !== c.last;
    }), before, { timeout: STEP_MS });
    // Publishing is going on: the publishes chart's latest values are not all zero.
    await page.waitForFunction(() => (document.getElementById('chart-publishes').dataset.last || '')
      .split(',').some((v) => Number(v) > 0), null, { timeout: STEP_MS });
    const after = await chartState(page);
    console.log(`     charts: ${after.map((c) => `${c.name} ${c.points} points, last ${c.last}`).join('; ')}`);
  });

  await step(`the busiest rooms list ${room} with members on every node`, async () => {
    await page.locator(`${by('room')}[data-room="${room}"][data-nodes="${nodes}"]`).waitFor();
  });

  await step('a heartbeat cut-off is listed with its reason', async () => {
    await page.locator(by('cutoff'), { hasText: 'heartbeat timeout' }).first().waitFor();
  });

  await step(`the lookup finds ${user} with two connections`, async () => {
    await page.fill(by('lookup-user'), user);
    await page.click(by('lookup-button'));
    await page.locator(`${by('user-summary')}[data-connections="2"]`).waitFor();
    assert(await page.locator(by('user-connection')).count() === 2, 'not two connection rows');
  });

  await step(`disconnect (confirmed) closes ${user}'s connections and the lookup shows them gone`, async () => {
    let confirmed = '';
    page.once('dialog', (dialog) => {
      confirmed = dialog.message();
      dialog.accept();
    });
    await page.click(by('disconnect-button'));
    await page.locator(by('user-outcome'), { hasText: 'disconnected 2 connection(s)' }).waitFor();
    assert(confirmed.includes(user), `the confirmation did not name the user: ${confirmed}`);
    await page.locator(`${by('user-summary')}[data-connections="0"]`).waitFor();
    assert(await page.locator(by('user-connection')).count() === 0, 'connection rows remain');
    // The cut-offs it caused show up with the next poll.
    await page.waitForFunction((u) => document.querySelectorAll(`[data-testid="cutoff"][data-user="${u}"][data-code="4500"]`).length === 2,
      user, { timeout: STEP_MS });
    await page.screenshot({ path: path.resolve(consoleShot), timeout: STEP_MS, animations: 'disabled', fullPage: true });
    console.log(`screenshot: ${path.resolve(consoleShot)}`);
  });

  assert(pageErrors.length === 0, `errors in the page: ${pageErrors.join('; ')}`);
} catch (error) {
  failed = true;
  console.error(`FAIL: ${error.stack || error}`);
  if (pageErrors.length) console.error(`page errors: ${pageErrors.join('; ')}`);
  if (page) {
    try {
      const failure = path.resolve(consoleShot.replace(/\.png$/, '') + '-failure.png');
      await page.screenshot({ path: failure, timeout: STEP_MS, fullPage: true });
      console.error(`screenshot: ${failure}`);
    } catch (shotError) {
      console.error(`could not save a screenshot: ${shotError.message}`);
    }
  }
} finally {
  await browser.close();
  clearTimeout(runTimer);
}
process.exit(failed ? 1 : 0);
