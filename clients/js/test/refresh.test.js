import assert from 'node:assert/strict';
import { test, setup, connected as connectedWith, flush } from '../test-support/setup.js';

// These tests let minutes pass in silence; a long heartbeat keeps the watchdog out of them.
const connected = (ctx, welcome) => connectedWith(ctx, { heartbeat: { interval: 24 * 3_600_000, timeout: 0 }, ...welcome });

test('with expiresAt the token is refreshed 10% of the lifetime before expiry', async () => {
  const ctx = setup();
  const socket = await connected(ctx, { expiresAt: ctx.clock.now() + 100_000 });
  await ctx.clock.advance(89_999);
  assert.equal(socket.sentOf('auth').length, 1, 'only the first-message auth so far');
  await ctx.clock.advance(1);
  const refresh = socket.lastSent('auth');
  assert.deepEqual(refresh.data, { token: 'token-2' });
  assert.equal(typeof refresh.id, 'string');

  socket.receive({ type: 'refreshed', id: refresh.id, data: { expiresAt: ctx.clock.now() + 100_000 } });
  assert.equal(ctx.events.of('refreshed').length, 1);
  assert.equal(ctx.client.expiresAt, ctx.clock.now() + 100_000);
  await ctx.clock.advance(90_000);
  assert.deepEqual(socket.lastSent('auth').data, { token: 'token-3' }, 'the next refresh follows the new expiry');
});

test('the margin is at least minMargin (5 s) for short lifetimes, and never more than half', async () => {
  const ctx = setup();
  const socket = await connected(ctx, { expiresAt: ctx.clock.now() + 20_000 });
  await ctx.clock.advance(14_999);
  assert.equal(socket.sentOf('auth').length, 1);
  await ctx.clock.advance(1);
  assert.equal(socket.sentOf('auth').length, 2);

  const short = setup();
  const other = await connected(short, { expiresAt: short.clock.now() + 6_000 });
  await short.clock.advance(2_999);
  assert.equal(other.sentOf('auth').length, 1);
  await short.clock.advance(1);
  assert.equal(other.sentOf('auth').length, 2);
});

test('no expiresAt, or a static token, means no refresh', async () => {
  const ctx = setup();
  const socket = await connected(ctx, { expiresAt: null });
  await ctx.clock.advance(10 * 3_600_000);
  assert.equal(socket.sentOf('auth').length, 1);

  const fixed = setup({ token: 'static' });
  const other = await connected(fixed, { expiresAt: fixed.clock.now() + 60_000 });
  await fixed.clock.advance(59_000);
  assert.equal(other.sentOf('auth').length, 1);
});

test('a refresh that does not extend the lifetime is not repeated', async () => {
  const ctx = setup();
  const expiresAt = ctx.clock.now() + 60_000;
  const socket = await connected(ctx, { expiresAt });
  await ctx.clock.advance(54_000);
  socket.receive({ type: 'refreshed', id: socket.lastSent('auth').id, data: { expiresAt } });
  await ctx.clock.advance(5_999);
  assert.equal(socket.sentOf('auth').length, 2);
});

test('a refused refresh surfaces as an error and the 4401 that follows triggers the fresh-token reconnect', async () => {
  const ctx = setup();
  const socket = await connected(ctx, { expiresAt: ctx.clock.now() + 60_000 });
  await ctx.clock.advance(54_000);
  socket.receive({ type: 'error', id: socket.lastSent('auth').id, data: { code: 'unauthorized', message: 'bad token' } });
  await flush();
  assert.equal(ctx.events.of('error')[0].code, 'unauthorized');
  socket.serverClose(4401, 'unauthorized');
  await ctx.clock.advance(0);
  assert.equal(ctx.WebSocket.instances.length, 2);
});
