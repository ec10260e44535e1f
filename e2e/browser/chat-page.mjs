// The chat demo's page as both chat scripts drive it (chat-demo.e2e.mjs over WebSocket,
// sse-fallback.e2e.mjs with WebSocket blocked): what to log from a page, signing in, and waiting
// for a state, a member or messages, all by the demo's data-testid attributes.
import { by, STEP_MS } from './harness.mjs';

/** Collects the page's script errors into `pageErrors` and prints its failed requests and console errors. */
export function watchPage(page, name, pageErrors) {
  page.on('pageerror', (error) => pageErrors.push(`${name}: ${error.message}`));
  page.on('response', (response) => {
    // Without the query string: a socket's URL carries its ticket, a credential.
    if (response.status() >= 400) console.log(`     [${name}] HTTP ${response.status()} ${response.url().split('?')[0]}`);
  });
  page.on('console', (message) => {
    if (message.type() === 'error') console.log(`     [${name} console] ${message.text()}`);
  });
}

/** Opens the demo at `baseUrl`, connects as `name` and waits for the lobby. */
export async function signIn(page, baseUrl, name) {
  await page.goto(baseUrl, { waitUntil: 'load' });
  await page.fill(by('name-input'), name);
  await page.click(by('connect-button'));
  await waitForState(page, 'connected');
  await page.locator(`${by('room-item')}[data-room="lobby"]`).waitFor();
}

export function waitForState(page, state) {
  return page.locator(`${by('state-badge')}[data-state="${state}"]`).waitFor({ timeout: STEP_MS });
}

export function waitForMember(page, user, present = true) {
  return page.locator(`${by('member')}[data-user="${user}"]`).waitFor({ state: present ? 'visible' : 'detached', timeout: STEP_MS });
}

/** Waits until every text in `expected` is shown as a room message. */
export function waitForMessages(page, expected) {
  return page.waitForFunction((wanted) => {
    const shown = [...document.querySelectorAll('[data-testid="message"] [data-testid="message-text"]')].map((e) => e.textContent);
    return wanted.every((text) => shown.includes(text));
  }, expected, { timeout: STEP_MS });
}

/** Sends `text` from the composer and waits for the room to echo it back with its offset. */
export async function say(page, text) {
  await page.fill(by('composer-input'), text);
  await page.press(by('composer-input'), 'Enter');
  await waitForMessages(page, [text]);
}
