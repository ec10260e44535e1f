import assert from 'node:assert/strict';
import { BrokerError } from '../src/broker-client.js';
import { test, setup, connected, flush } from '../test-support/setup.js';

test('every request carries a unique string id of at most 64 characters', async () => {
  const ctx = setup();
  const socket = await connected(ctx);
  for (let i = 0; i < 50; i++) ctx.client.publish('lobby', i).catch(() => {});
  const ids = socket.sentOf('publish').map((f) => f.id);
  assert.equal(new Set(ids).size, 50);
  for (const id of ids) assert.ok(typeof id === 'string' && id.length > 0 && id.length <= 64, id);
  ctx.client.close();
});

test('publish resolves with the offset and epoch of the ack of the same id (epoch null from an older server)', async () => {
  const ctx = setup();
  const socket = await connected(ctx);
  const first = ctx.client.publish('lobby', { text: 'hi' }, { excludeSelf: true });
  const second = ctx.client.publish('lobby', { text: 'again' });
  const [f1, f2] = socket.sentOf('publish');
  assert.deepEqual(f1.data, { room: 'lobby', payload: { text: 'hi' }, excludeSelf: true, idempotencyKey: f1.data.idempotencyKey });
  assert.deepEqual(f2.data, { room: 'lobby', payload: { text: 'again' }, idempotencyKey: f2.data.idempotencyKey });
  socket.receive({ type: 'ack', id: f2.id, data: { offset: 8 } });
  socket.receive({ type: 'ack', id: f1.id, data: { offset: 7, epoch: 'e1' } });
  assert.deepEqual(await first, { offset: 7, epoch: 'e1' });
  assert.deepEqual(await second, { offset: 8, epoch: null });
});

test('send resolves with delivered; leave with left', async () => {
  const ctx = setup();
  const socket = await connected(ctx);
  const sending = ctx.client.send('bob', 'psst');
  assert.deepEqual(socket.lastSent('send').data, { user: 'bob', payload: 'psst' });
  socket.receive({ type: 'ack', id: socket.lastSent('send').id, data: { delivered: 2 } });
  assert.deepEqual(await sending, { delivered: 2 });
  const leaving = ctx.client.leave('lobby');
  socket.receive({ type: 'left', id: socket.lastSent('leave').id, data: { room: 'lobby' } });
  assert.deepEqual(await leaving, { room: 'lobby' });
});

test('an error with the id rejects with a BrokerError carrying the server code', async () => {
  const ctx = setup();
  const socket = await connected(ctx);
  const publishing = ctx.client.publish('lobby', 1);
  socket.receive({ type: 'error', id: socket.lastSent('publish').id, data: { code: 'forbidden', message: 'not a member of lobby' } });
  await assert.rejects(publishing, (e) => e instanceof BrokerError && e.code === 'forbidden' && e.message === 'not a member of lobby');
  assert.equal(ctx.events.of('error').length, 0, 'an answered request is not also a client error');
});

test('a reply of another type with the id does not settle the request', async () => {
  const ctx = setup();
  const socket = await connected(ctx);
  let settled = false;
  ctx.client.publish('lobby', 1).then(() => { settled = true; }, () => { settled = true; });
  socket.receive({ type: 'left', id: socket.lastSent('publish').id, data: { room: 'lobby' } });
  await flush();
  assert.equal(settled, false);
  ctx.client.close();
});

test('no reply within requestTimeout rejects with timeout; a late reply is ignored', async () => {
  const ctx = setup({ requestTimeout: 2000 });
  const socket = await connected(ctx);
  let outcome;
  ctx.client.publish('lobby', 1).then((v) => { outcome = v; }, (e) => { outcome = e; });
  await ctx.clock.advance(1999);
  assert.equal(outcome, undefined);
  await ctx.clock.advance(1);
  assert.equal(outcome.code, 'timeout');
  socket.receive({ type: 'ack', id: socket.lastSent('publish').id, data: { offset: 1 } });
  await flush();
  assert.equal(outcome.code, 'timeout');
});

test('requests in flight when the socket drops reject with disconnected (at most once)', async () => {
  const ctx = setup();
  const socket = await connected(ctx);
  const publishing = assert.rejects(ctx.client.publish('lobby', 1), (e) => e.code === 'disconnected');
  socket.serverClose(1006);
  await publishing;
  await ctx.clock.advance(500);
  ctx.WebSocket.last.accept();
  await flush();
  assert.equal(ctx.WebSocket.last.sentOf('publish').length, 0, 'not resent on the new connection');
});

test('requests made while reconnecting wait for the connection and go out after welcome', async () => {
  const ctx = setup();
  (await connected(ctx)).serverClose(1001);
  const publishing = ctx.client.publish('lobby', 'queued');
  await ctx.clock.advance(500);
  const socket = ctx.WebSocket.last;
  socket.open();
  assert.deepEqual(socket.sent.map((f) => f.type), ['auth'], 'nothing before welcome');
  socket.receive({ type: 'welcome', data: { user: 'alice', heartbeat: { interval: 25000, timeout: 10000 } } });
  const frame = socket.lastSent('publish');
  assert.equal(frame.data.payload, 'queued');
  socket.receive({ type: 'ack', id: frame.id, data: { offset: 3 } });
  assert.deepEqual(await publishing, { offset: 3, epoch: null });
});

test('a queued request survives failed attempts and goes out once connected', async () => {
  const ctx = setup();
  ctx.client.connect();
  const publishing = ctx.client.publish('lobby', 'early');
  await ctx.clock.advance(0);
  ctx.WebSocket.last.serverClose(1006); // the first attempt fails before opening
  await ctx.clock.advance(500);
  const socket = ctx.WebSocket.last;
  socket.accept();
  const frame = socket.lastSent('publish');
  assert.equal(frame?.data.payload, 'early');
  socket.receive({ type: 'ack', id: frame.id, data: { offset: 1 } });
  assert.deepEqual(await publishing, { offset: 1, epoch: null });
});

test('a request waiting for the connection times out after requestTimeout', async () => {
  const ctx = setup({ requestTimeout: 4000 });
  (await connected(ctx)).serverClose(1006);
  const publishing = assert.rejects(ctx.client.publish('lobby', 1), (e) => e.code === 'timeout');
  await ctx.clock.advance(4000);
  await publishing;
});

test('a payload that JSON cannot carry rejects at once with bad_request', async () => {
  const ctx = setup();
  const socket = await connected(ctx);
  await assert.rejects(ctx.client.publish('lobby', { n: 1n }), (e) => e.code === 'bad_request');
  assert.equal(socket.sentOf('publish').length, 0);
});

test('requests on an idle client reject with not_connected', async () => {
  const ctx = setup();
  await assert.rejects(ctx.client.publish('lobby', 1), (e) => e.code === 'not_connected');
});

test('room names are validated before anything is sent', async () => {
  const ctx = setup();
  const socket = await connected(ctx);
  for (const bad of ['', 'has space', 'x'.repeat(129), 'ü', null, 42]) {
    await assert.rejects(ctx.client.join(bad), (e) => e.code === 'bad_request');
    await assert.rejects(ctx.client.publish(bad, 1), (e) => e.code === 'bad_request');
  }
  ctx.client.join('A-z_0.9:x').catch(() => {});
  ctx.client.join('x'.repeat(128)).catch(() => {});
  assert.deepEqual(socket.sentOf('join').map((f) => f.data.room), ['A-z_0.9:x', 'x'.repeat(128)]);
  ctx.client.close();
});

test('ping() measures a round trip with the pong of the same id', async () => {
  const ctx = setup();
  const socket = await connected(ctx);
  const rtt = ctx.client.ping();
  await ctx.clock.advance(42);
  socket.receive({ type: 'pong', id: socket.lastSent('ping').id });
  assert.equal(await rtt, 42);
});

test('server errors without an id are emitted as error events', async () => {
  const ctx = setup();
  const socket = await connected(ctx);
  socket.receive({ type: 'error', data: { code: 'rate_limited', message: 'slow down' } });
  const [error] = ctx.events.of('error');
  assert.ok(error instanceof BrokerError);
  assert.equal(error.code, 'rate_limited');
});

test('direct frames are emitted as direct events', async () => {
  const ctx = setup();
  const socket = await connected(ctx);
  socket.receive({ type: 'direct', data: { from: 'bob', payload: { x: 1 } } });
  assert.deepEqual(ctx.events.of('direct'), [{ from: 'bob', payload: { x: 1 } }]);
});
