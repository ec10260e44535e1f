import assert from 'node:assert/strict';
import { BrokerError } from '../src/broker-client.js';
import { test, setup, connected, joinRoom, flush } from '../test-support/setup.js';

// PROTOCOL §9.1: `unavailable` answers a request the server did not apply; retry with backoff.
// The fake clock's random() is 0, so each delay is its full base: 200, 400, 800, … ms.

function unavailable(socket, frame) {
  socket.receive({ type: 'error', id: frame.id, data: { code: 'unavailable', message: 'room moving' } });
}

function outcome(promise) {
  const seen = { value: undefined, error: undefined, settled: false };
  promise.then((v) => { seen.value = v; seen.settled = true; }, (e) => { seen.error = e; seen.settled = true; });
  return seen;
}

test('a publish answered unavailable is sent again after a growing backoff and resolves with the eventual ack', async () => {
  const ctx = setup();
  const socket = await connected(ctx);
  const publishing = outcome(ctx.client.publish('lobby', { text: 'hi' }));
  const first = socket.lastSent('publish');
  unavailable(socket, first);
  await ctx.clock.advance(199);
  assert.equal(socket.sentOf('publish').length, 1, 'not before the first delay');
  await ctx.clock.advance(1);
  assert.equal(socket.sentOf('publish').length, 2);
  const second = socket.lastSent('publish');
  assert.deepEqual(second, first, 'the same frame, same id: its one reply was the error');

  unavailable(socket, second);
  await ctx.clock.advance(399);
  assert.equal(socket.sentOf('publish').length, 2);
  await ctx.clock.advance(1);
  assert.equal(socket.sentOf('publish').length, 3);
  socket.receive({ type: 'ack', id: first.id, data: { offset: 9, epoch: 'e2' } });
  await flush();
  assert.deepEqual(publishing.value, { offset: 9, epoch: 'e2' });
  assert.equal(ctx.events.of('error').length, 0, 'retries are transparent');
});

test('the delays are jittered: random() takes up to `jitter` off each one', async () => {
  const ctx = setup({ retry: { initialDelay: 1000, jitter: 0.5 } });
  const socket = await connected(ctx);
  ctx.clock.randomValues = [1];
  ctx.client.publish('lobby', 1).catch(() => {});
  unavailable(socket, socket.lastSent('publish'));
  assert.ok(ctx.clock.pendingDelays.includes(500), `${ctx.clock.pendingDelays}`);
  ctx.client.close();
});

test('after maxAttempts sends it rejects with the last unavailable error', async () => {
  const ctx = setup({ retry: { maxAttempts: 3 } });
  const socket = await connected(ctx);
  const publishing = outcome(ctx.client.publish('lobby', 1));
  for (let sends = 1; sends <= 3; sends++) {
    assert.equal(socket.sentOf('publish').length, sends);
    unavailable(socket, socket.lastSent('publish'));
    await ctx.clock.advance(10_000);
  }
  assert.equal(socket.sentOf('publish').length, 3);
  assert.ok(publishing.error instanceof BrokerError);
  assert.equal(publishing.error.code, 'unavailable');
  assert.equal(publishing.error.message, 'room moving');
});

test('a retry that would end after maxElapsed is not made', async () => {
  const ctx = setup({ retry: { maxElapsed: 1000, maxAttempts: 100 } });
  const socket = await connected(ctx);
  const publishing = outcome(ctx.client.publish('lobby', 1));
  // Answered at once each time: resent at 200 and 600 ms; the next delay, 800, would end at 1400.
  for (const delay of [200, 400, 800]) {
    unavailable(socket, socket.lastSent('publish'));
    await ctx.clock.advance(delay);
  }
  assert.equal(socket.sentOf('publish').length, 3);
  assert.equal(publishing.error?.code, 'unavailable');
});

test('retry: false rejects at the first unavailable', async () => {
  const ctx = setup({ retry: false });
  const socket = await connected(ctx);
  const publishing = outcome(ctx.client.publish('lobby', 1));
  unavailable(socket, socket.lastSent('publish'));
  await flush();
  assert.equal(publishing.error?.code, 'unavailable');
});

for (const code of ['forbidden', 'rate_limited', 'internal', 'bad_request']) {
  test(`an error ${code} is not retried`, async () => {
    const ctx = setup();
    const socket = await connected(ctx);
    const publishing = outcome(ctx.client.publish('lobby', 1));
    socket.receive({ type: 'error', id: socket.lastSent('publish').id, data: { code, message: 'no' } });
    await ctx.clock.advance(60_000);
    assert.equal(socket.sentOf('publish').length, 1);
    assert.equal(publishing.error?.code, code);
  });
}

test('join and send are retried too; leave and ping are not', async () => {
  const ctx = setup();
  const socket = await connected(ctx);
  const joining = outcome(ctx.client.join('lobby'));
  const sending = outcome(ctx.client.send('bob', 'psst'));
  unavailable(socket, socket.lastSent('join'));
  unavailable(socket, socket.lastSent('send'));
  await ctx.clock.advance(200);
  assert.equal(socket.sentOf('join').length, 2);
  assert.equal(socket.sentOf('send').length, 2);
  socket.receive({ type: 'joined', id: socket.lastSent('join').id, data: { room: 'lobby', epoch: 'e1', offset: 4, members: ['alice'], recovered: false } });
  socket.receive({ type: 'ack', id: socket.lastSent('send').id, data: { delivered: 1 } });
  await flush();
  assert.equal(joining.value?.offset, 4);
  assert.equal(ctx.client.rooms.get('lobby').joined, true);
  assert.deepEqual(sending.value, { delivered: 1 });

  const leaving = outcome(ctx.client.leave('lobby'));
  const pinging = outcome(ctx.client.ping());
  unavailable(socket, socket.lastSent('leave'));
  unavailable(socket, socket.lastSent('ping'));
  await ctx.clock.advance(10_000);
  assert.equal(leaving.error?.code, 'unavailable');
  assert.equal(pinging.error?.code, 'unavailable');
  assert.equal(socket.sentOf('leave').length, 1);
});

test('each attempt gets the full request timeout; the wait between attempts is not counted', async () => {
  const ctx = setup({ requestTimeout: 1000, retry: { initialDelay: 5000, maxDelay: 5000 } });
  const socket = await connected(ctx);
  const publishing = outcome(ctx.client.publish('lobby', 1));
  await ctx.clock.advance(900);
  unavailable(socket, socket.lastSent('publish'));
  await ctx.clock.advance(5000);
  assert.equal(socket.sentOf('publish').length, 2);
  assert.equal(publishing.settled, false);
  await ctx.clock.advance(999);
  assert.equal(publishing.settled, false);
  await ctx.clock.advance(1);
  assert.equal(publishing.error?.code, 'timeout');
});

test('a retry waiting when the socket drops is not lost: it goes out on the next connection, after its backoff', async () => {
  const ctx = setup({ retry: { initialDelay: 2000, maxDelay: 2000 } });
  const first = await connected(ctx);
  const publishing = outcome(ctx.client.publish('lobby', 'x'));
  const frame = first.lastSent('publish');
  unavailable(first, frame);
  first.serverClose(1006);
  await ctx.clock.advance(500); // the reconnect backoff
  const second = ctx.WebSocket.last;
  second.accept();
  await flush();
  assert.equal(second.sentOf('publish').length, 0, 'the welcome does not cut the retry backoff short');
  await ctx.clock.advance(1500);
  assert.equal(second.sentOf('publish').length, 1);
  second.receive({ type: 'ack', id: frame.id, data: { offset: 2, epoch: 'e1' } });
  await flush();
  assert.deepEqual(publishing.value, { offset: 2, epoch: 'e1' });
});

test('a retry due while reconnecting waits for the connection and goes out after the rejoins', async () => {
  const ctx = setup();
  const first = await connected(ctx);
  await joinRoom(ctx, first, 'lobby');
  const publishing = outcome(ctx.client.publish('lobby', 'x'));
  unavailable(first, first.lastSent('publish'));
  first.serverClose(1006);
  await ctx.clock.advance(500); // the retry fires at 200, the reconnect at 500
  const second = ctx.WebSocket.last;
  second.accept();
  await flush();
  assert.deepEqual(second.sent.map((f) => f.type), ['auth', 'join', 'publish']);
  second.receive({ type: 'ack', id: second.lastSent('publish').id, data: { offset: 1, epoch: 'e1' } });
  await flush();
  assert.equal(publishing.value?.offset, 1);
});

test('a rejoin answered unavailable is retried and the room stays tracked', async () => {
  const ctx = setup();
  const first = await connected(ctx);
  await joinRoom(ctx, first, 'lobby', { offset: 3 });
  first.serverClose(1001);
  await ctx.clock.advance(500);
  const second = ctx.WebSocket.last;
  second.accept();
  await flush();
  unavailable(second, second.lastSent('join'));
  await ctx.clock.advance(200);
  assert.equal(second.sentOf('join').length, 2);
  assert.deepEqual(second.lastSent('join').data, { room: 'lobby', since: { epoch: 'e1', offset: 3 } });
  second.receive({ type: 'joined', id: second.lastSent('join').id, data: { room: 'lobby', epoch: 'e1', offset: 3, members: [], recovered: true } });
  assert.equal(ctx.client.rooms.get('lobby').joined, true);
  assert.equal(ctx.events.of('recovered').length, 1);
  assert.equal(ctx.events.of('error').length, 0);
});

test('a rejoin waiting to retry when the socket drops again is replaced by the next connection\'s rejoin', async () => {
  const ctx = setup();
  const first = await connected(ctx);
  await joinRoom(ctx, first, 'lobby', { offset: 3 });
  first.serverClose(1001);
  await ctx.clock.advance(500);
  const second = ctx.WebSocket.last;
  second.accept();
  await flush();
  unavailable(second, second.lastSent('join'));
  second.serverClose(1001);
  await ctx.clock.advance(500);
  const third = ctx.WebSocket.last;
  third.accept();
  await ctx.clock.advance(5000);
  assert.equal(third.sentOf('join').length, 1, 'one rejoin, not two');
  assert.equal(ctx.events.of('error').length, 0);
});

test('leave() while a join waits to retry: the join is not sent again and rejects', async () => {
  const ctx = setup();
  const socket = await connected(ctx);
  const joining = outcome(ctx.client.join('lobby'));
  unavailable(socket, socket.lastSent('join'));
  ctx.client.leave('lobby').catch(() => {});
  await ctx.clock.advance(10_000);
  assert.equal(socket.sentOf('join').length, 1);
  assert.equal(joining.error?.code, 'unavailable');
  assert.equal(ctx.client.rooms.has('lobby'), false);
});

test('close() while a retry waits rejects it with closed', async () => {
  const ctx = setup();
  const socket = await connected(ctx);
  const publishing = outcome(ctx.client.publish('lobby', 1));
  unavailable(socket, socket.lastSent('publish'));
  ctx.client.close();
  await flush();
  assert.equal(publishing.error?.code, 'closed');
  assert.deepEqual(ctx.clock.pendingDelays, [], 'no timer left behind');
});

test('a reply to the id while the retry waits is ignored (nothing can answer an unsent request)', async () => {
  const ctx = setup();
  const socket = await connected(ctx);
  const publishing = outcome(ctx.client.publish('lobby', 1));
  const frame = socket.lastSent('publish');
  unavailable(socket, frame);
  socket.receive({ type: 'ack', id: frame.id, data: { offset: 1 } });
  await flush();
  assert.equal(publishing.settled, false);
  await ctx.clock.advance(200);
  socket.receive({ type: 'ack', id: frame.id, data: { offset: 2, epoch: 'e1' } });
  await flush();
  assert.deepEqual(publishing.value, { offset: 2, epoch: 'e1' });
});
