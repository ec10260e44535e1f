// What every browser script here shares: where Debian's Chromium is, the bound on each wait, the
// run's own deadline, and the small helpers (named steps that print their time, assertions,
// test-id selectors, the headless launch). One copy, so the scripts differ only in what they check.
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
/** The bound on every single wait. */
export const STEP_MS = 15_000;
/** The bound on the whole run, should a wait outside Playwright's control hang. */
export const RUN_MS = 120_000;

/** Exits with code 2 once the run has taken RUN_MS; clear the returned timer when the run ends. */
export function startRunTimer() {
  return setTimeout(() => {
    console.error(`FAIL: the run took longer than ${RUN_MS} ms`);
    process.exit(2);
  }, RUN_MS);
}

/** The selector of an element by its data-testid. */
export const by = (testId) => `[data-testid="${testId}"]`;

export function assert(condition, message) {
  if (!condition) throw new Error(message);
}

/** Runs one named step and prints how long it took. */
export async function step(name, action) {
  const started = Date.now();
  await action();
  console.log(`ok   ${name} (${Date.now() - started} ms)`);
}

/** Headless Chromium: no sandbox (CI runs as root in a container), nothing that phones home or updates itself. */
export function launchChromium() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: STEP_MS,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-quic', '--no-first-run', '--disable-sync'],
  });
}
