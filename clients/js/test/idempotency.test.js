import assert from 'node:assert/strict';
import { BrokerError, createIdempotencyKey, MAX_IDEMPOTENCY_KEY_LENGTH } from '../src/broker-client.js';
import { test, setup, connected, joinRoom, flush } from '../test-support/setup.js';

// PROTOCOL §9.2: a publish carries an idempotencyKey; the server applies a key once per room
// within its window. The client makes one key per publish() and sends it on every retry.

const KEY = /^[A-Za-z0-9_-]{22}$/;

function unavailable(socket, frame) {
  socket.receive({ type: 'error', id: frame.id, data: { code: 'unavailable', message: 'room moving' } });
}

function keyOf(frame) {
  return frame.data.idempotencyKey;
}

test('a publish carries a generated key of 22 URL-safe characters', async () => {
  const ctx = setup();
  const socket = await connected(ctx);
  ctx.client.publish('lobby', { text: 'hi' }).catch(() => {});
  const frame = socket.lastSent('publish');
  assert.match(keyOf(frame), KEY);
  assert.deepEqual(frame.data, { room: 'lobby', payload: { text: 'hi' }, idempotencyKey: keyOf(frame) });
  ctx.client.close();
});

test('the first send and every retry after unavailable carry the same key', async () => {
  const ctx = setup();
  const socket = await connected(ctx);
  const publishing = ctx.client.publish('lobby', 'x');
  unavailable(socket, socket.lastSent('publish'));
  await ctx.clock.advance(200);
  unavailable(socket, socket.lastSent('publish'));
  await ctx.clock.advance(400);
  const sends = socket.sentOf('publish');
  assert.equal(sends.length, 3);
  assert.match(keyOf(sends[0]), KEY);
  assert.deepEqual(sends.map(keyOf), [keyOf(sends[0]), keyOf(sends[0]), keyOf(sends[0])]);
  socket.receive({ type: 'ack', id: sends[2].id, data: { offset: 4, epoch: 'e1' } });
  assert.deepEqual(await publishing, { offset: 4, epoch: 'e1' });
});

test('a retry sent on the next connection after a drop carries the same key', async () => {
  const ctx = setup({ retry: { initialDelay: 2000, maxDelay: 2000 } });
  const first = await connected(ctx);
  await joinRoom(ctx, first, 'lobby');
  const publishing = ctx.client.publish('lobby', 'x');
  const original = first.lastSent('publish');
  unavailable(first, original);
  first.serverClose(1006);
  await ctx.clock.advance(500); // the reconnect backoff
  const second = ctx.WebSocket.last;
  second.accept();
  await ctx.clock.advance(1500); // the rest of the retry backoff
  assert.deepEqual(second.sent.map((f) => f.type), ['auth', 'join', 'publish']);
  assert.equal(keyOf(second.lastSent('publish')), keyOf(original));
  second.receive({ type: 'ack', id: second.lastSent('publish').id, data: { offset: 1, epoch: 'e1' } });
  assert.deepEqual(await publishing, { offset: 1, epoch: 'e1' });
});

test('a publish made while reconnecting gets its key at the call and sends it once connected', async () => {
  const ctx = setup();
  (await connected(ctx)).serverClose(1001);
  ctx.client.publish('lobby', 'queued').catch(() => {});
  await ctx.clock.advance(500);
  const socket = ctx.WebSocket.last;
  socket.accept();
  assert.match(keyOf(socket.lastSent('publish')), KEY);
  ctx.client.close();
});

test('two publishes, even of the same payload, have different keys', async () => {
  const ctx = setup(); // the fake clock's random() is always 0: keys must not come from it
  const socket = await connected(ctx);
  for (let i = 0; i < 100; i++) ctx.client.publish('lobby', 'same').catch(() => {});
  const keys = socket.sentOf('publish').map(keyOf);
  assert.equal(new Set(keys).size, 100);
  ctx.client.close();
});

test('a key the caller passes is sent as is, on the first send and on retries', async () => {
  const ctx = setup();
  const socket = await connected(ctx);
  const publishing = ctx.client.publish('lobby', 'x', { idempotencyKey: 'order-42', excludeSelf: true });
  const first = socket.lastSent('publish');
  assert.deepEqual(first.data, { room: 'lobby', payload: 'x', excludeSelf: true, idempotencyKey: 'order-42' });
  unavailable(socket, first);
  await ctx.clock.advance(200);
  assert.deepEqual(socket.sentOf('publish').map(keyOf), ['order-42', 'order-42']);
  socket.receive({ type: 'ack', id: first.id, data: { offset: 9, epoch: 'e1' } });
  assert.deepEqual(await publishing, { offset: 9, epoch: 'e1' });
});

test('keys of 1 and 64 characters are accepted', async () => {
  const ctx = setup();
  const socket = await connected(ctx);
  const longest = 'k'.repeat(MAX_IDEMPOTENCY_KEY_LENGTH);
  ctx.client.publish('lobby', 1, { idempotencyKey: 'k' }).catch(() => {});
  ctx.client.publish('lobby', 2, { idempotencyKey: longest }).catch(() => {});
  assert.deepEqual(socket.sentOf('publish').map(keyOf), ['k', longest]);
  ctx.client.close();
});

for (const [what, bad] of [
  ['an empty string', ''],
  ['65 characters', 'k'.repeat(65)],
  ['null', null],
  ['a number', 42],
  ['an object', { key: 'k' }],
]) {
  test(`a caller key that is ${what} rejects with bad_request and nothing is sent`, async () => {
    const ctx = setup();
    const socket = await connected(ctx);
    await assert.rejects(ctx.client.publish('lobby', 1, { idempotencyKey: bad }), (e) =>
      e instanceof BrokerError && e.code === 'bad_request' && /idempotencyKey.*1–64 characters/.test(e.message));
    await flush();
    assert.equal(socket.sentOf('publish').length, 0);
    assert.equal(ctx.events.of('error').length, 0, 'a rejected call is not also an error event');
  });
}

test('a publish lost to a drop is not resent; the app retries it safely with its own key', async () => {
  const ctx = setup();
  const first = await connected(ctx);
  await joinRoom(ctx, first, 'lobby');
  const key = createIdempotencyKey();
  const lost = ctx.client.publish('lobby', 'x', { idempotencyKey: key });
  assert.equal(keyOf(first.lastSent('publish')), key);
  first.serverClose(1006);
  await assert.rejects(lost, (e) => e.code === 'disconnected');
  await ctx.clock.advance(500);
  const second = ctx.WebSocket.last;
  second.accept();
  await flush();
  assert.equal(second.sentOf('publish').length, 0, 'at most once: the client does not resend it by itself');

  const again = ctx.client.publish('lobby', 'x', { idempotencyKey: key });
  const resent = second.lastSent('publish');
  assert.equal(keyOf(resent), key);
  // The server had applied the first one: it answers with that one's ack.
  second.receive({ type: 'ack', id: resent.id, data: { offset: 1, epoch: 'e1' } });
  assert.deepEqual(await again, { offset: 1, epoch: 'e1' });
});

test('createIdempotencyKey makes distinct 22-character URL-safe keys', () => {
  const keys = Array.from({ length: 1000 }, () => createIdempotencyKey());
  for (const key of keys) assert.match(key, KEY);
  assert.equal(new Set(keys).size, keys.length);
});
