import assert from 'node:assert/strict';
import { test, setup, connected, message } from '../test-support/setup.js';

const heartbeat = { heartbeat: { interval: 1000, timeout: 500 } };

test('silence for interval + timeout closes the socket and reconnects', async () => {
  const ctx = setup();
  const socket = await connected(ctx, heartbeat);
  await ctx.clock.advance(1499);
  assert.equal(socket.closedBy, null);
  assert.equal(ctx.client.state, 'connected');
  await ctx.clock.advance(1);
  assert.deepEqual(socket.closedBy, { code: 1000, reason: 'heartbeat timeout' });
  assert.equal(ctx.client.state, 'reconnecting');
  assert.deepEqual(ctx.events.of('closed').at(-1), { code: 1006, reason: 'heartbeat timeout', willReconnect: true, delay: 500 });
  await ctx.clock.advance(500);
  assert.equal(ctx.WebSocket.instances.length, 2);
});

test('any server frame counts as life: pings and messages keep the connection', async () => {
  const ctx = setup();
  const socket = await connected(ctx, heartbeat);
  for (let i = 0; i < 10; i++) {
    await ctx.clock.advance(1400);
    socket.receive(i % 2 ? { type: 'ping' } : message('lobby', i + 1));
  }
  assert.equal(socket.closedBy, null);
  assert.equal(ctx.client.state, 'connected');
  await ctx.clock.advance(1500);
  assert.equal(socket.closedBy?.reason, 'heartbeat timeout');
});

test('the watchdog follows the welcome values', async () => {
  const ctx = setup();
  const socket = await connected(ctx, { heartbeat: { interval: 25000, timeout: 10000 } });
  await ctx.clock.advance(34999);
  assert.equal(socket.closedBy, null);
  await ctx.clock.advance(1);
  assert.equal(socket.closedBy?.reason, 'heartbeat timeout');
});

test('a handshake that never completes is abandoned after requestTimeout', async () => {
  const ctx = setup({ requestTimeout: 3000 });
  ctx.client.connect();
  await ctx.clock.advance(0);
  const socket = ctx.WebSocket.last;
  socket.open(); // opened and authenticated, but no welcome ever comes
  await ctx.clock.advance(2999);
  assert.equal(socket.closedBy, null);
  await ctx.clock.advance(1);
  assert.equal(socket.closedBy?.reason, 'handshake timeout');
  assert.equal(ctx.client.state, 'reconnecting');
});

test('a stale socket cannot affect the client after it was dropped', async () => {
  const ctx = setup();
  const first = await connected(ctx, heartbeat);
  await ctx.clock.advance(1500);
  await ctx.clock.advance(500);
  const second = ctx.WebSocket.last;
  second.accept(heartbeat);
  first.receive(message('lobby', 1)); // late frame from the old socket
  first.serverClose(4403);
  assert.equal(ctx.client.state, 'connected');
  assert.equal(ctx.events.of('message').length, 0);
});
