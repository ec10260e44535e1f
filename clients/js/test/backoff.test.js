import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay, DefaultReconnect, closeAction } from '../src/broker-client.js';

test('without jitter the delay doubles from initialDelay up to maxDelay', () => {
  const options = { ...DefaultReconnect, jitter: 0.5 };
  const delays = [0, 1, 2, 3, 4, 5, 6, 10, 100, 5000].map((attempt) => backoffDelay(attempt, options, () => 0));
  assert.deepEqual(delays, [500, 1000, 2000, 4000, 8000, 15000, 15000, 15000, 15000, 15000]);
});

test('jitter takes at most its share off the base, never adds to it', () => {
  const options = { initialDelay: 1000, maxDelay: 8000, factor: 2, jitter: 0.5 };
  for (let attempt = 0; attempt < 8; attempt++) {
    const base = Math.min(8000, 1000 * 2 ** attempt);
    for (const r of [0, 0.25, 0.5, 0.999999]) {
      const delay = backoffDelay(attempt, options, () => r);
      assert.ok(delay <= base && delay >= base * 0.5, `attempt ${attempt}, random ${r}: ${delay} not in [${base / 2}, ${base}]`);
    }
  }
  assert.equal(backoffDelay(0, options, () => 0.5), 750);
  assert.equal(backoffDelay(3, options, () => 0.999999), 4000);
});

test('jitter outside [0, 1] is clamped', () => {
  const options = { initialDelay: 1000, maxDelay: 8000, factor: 2, jitter: 3 };
  assert.equal(backoffDelay(0, options, () => 0.5), 500);
  assert.equal(backoffDelay(0, { ...options, jitter: -1 }, () => 0.5), 1000);
});

test('close codes map to the PROTOCOL §6 classes', () => {
  const table = {
    1000: 'stop', 4401: 'reauth', 4403: 'stop', 4000: 'stop', 4499: 'stop',
    4500: 'reconnect', 4508: 'reconnect', 4999: 'reconnect', 1001: 'reconnect', 1006: 'reconnect',
    1008: 'reconnect', 1009: 'reconnect', 1011: 'reconnect',
  };
  for (const [code, action] of Object.entries(table)) assert.equal(closeAction(Number(code)), action, `close ${code}`);
});
