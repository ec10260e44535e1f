import assert from 'node:assert/strict';
import { createClientStore, createRoomStore } from '../src/stores.js';
import { test, setup, connected, message, flush } from '../test-support/setup.js';

/** Subscribes like useSyncExternalStore and counts notifications. */
function watch(store) {
  const seen = { notifications: 0 };
  seen.unsubscribe = store.subscribe(() => { seen.notifications++; });
  return seen;
}

function answerJoin(socket, room, data = {}) {
  const frame = socket.sentOf('join').findLast((f) => f.data.room === room);
  socket.receive({ type: 'joined', id: frame.id, data: { room, epoch: 'e1', offset: 0, members: ['alice'], recovered: false, ...data } });
}

test('the room store joins on first subscribe and exposes members and messages', async () => {
  const ctx = setup();
  const socket = await connected(ctx);
  const store = createRoomStore(ctx.client, 'lobby');
  assert.equal(socket.sentOf('join').length, 0, 'nothing happens before someone subscribes');
  const seen = watch(store);
  assert.equal(socket.sentOf('join').length, 1);
  answerJoin(socket, 'lobby', { members: ['alice', 'bob'] });
  await flush();
  assert.equal(store.getSnapshot().joined, true);
  assert.deepEqual(store.getSnapshot().members, ['alice', 'bob']);

  socket.receive(message('lobby', 1));
  socket.receive(message('elsewhere', 1));
  socket.receive({ type: 'presence', data: { room: 'lobby', event: 'leave', user: 'bob' } });
  const snapshot = store.getSnapshot();
  assert.deepEqual(snapshot.messages.map((m) => m.offset), [1]);
  assert.deepEqual(snapshot.members, ['alice']);
  assert.ok(Object.isFrozen(snapshot));
  assert.equal(store.getSnapshot(), snapshot, 'the snapshot keeps its identity until something changes');
  assert.ok(seen.notifications >= 3);
});

test('history keeps only the last N messages', async () => {
  const ctx = setup();
  const socket = await connected(ctx);
  const store = createRoomStore(ctx.client, 'lobby', { history: 3 });
  watch(store);
  answerJoin(socket, 'lobby');
  for (let offset = 1; offset <= 5; offset++) socket.receive(message('lobby', offset));
  assert.deepEqual(store.getSnapshot().messages.map((m) => m.offset), [3, 4, 5]);
});

test('the last unsubscribe leaves the room; a join still in flight is left when it lands', async () => {
  const ctx = setup();
  const socket = await connected(ctx);
  const store = createRoomStore(ctx.client, 'lobby');
  const seen = watch(store);
  answerJoin(socket, 'lobby');
  await flush();
  seen.unsubscribe();
  assert.deepEqual(socket.lastSent('leave').data, { room: 'lobby' });
  assert.equal(store.getSnapshot().joined, false);

  const other = createRoomStore(ctx.client, 'other');
  watch(other).unsubscribe();
  assert.equal(socket.sentOf('leave').length, 1, 'not joined yet, nothing to leave');
  answerJoin(socket, 'other');
  await flush();
  assert.deepEqual(socket.lastSent('leave').data, { room: 'other' });
});

test('a store subscribed before connect() joins once the client is connecting', async () => {
  const ctx = setup();
  const store = createRoomStore(ctx.client, 'lobby');
  watch(store);
  const socket = await connected(ctx);
  answerJoin(socket, 'lobby');
  await flush();
  assert.equal(store.getSnapshot().joined, true);
  assert.equal(socket.sentOf('join').length, 1);
});

test('across a reconnect: joined goes false, then true with the recovery report; no duplicate join', async () => {
  const ctx = setup();
  const first = await connected(ctx);
  const store = createRoomStore(ctx.client, 'lobby');
  watch(store);
  answerJoin(first, 'lobby');
  await flush();
  first.serverClose(1006);
  assert.equal(store.getSnapshot().joined, false);
  await ctx.clock.advance(500);
  const second = ctx.WebSocket.last;
  second.accept();
  await flush();
  assert.equal(second.sentOf('join').length, 1, 'only the client rejoins');
  second.receive(message('lobby', 1, 'e2'));
  answerJoin(second, 'lobby', { epoch: 'e2', offset: 1 });
  const snapshot = store.getSnapshot();
  assert.equal(snapshot.joined, true);
  assert.deepEqual(snapshot.recovery, { room: 'lobby', recovered: false, epochChanged: true, missed: 1 });
});

test('a join lost to a drop is retried after the reconnect', async () => {
  const ctx = setup();
  const first = await connected(ctx);
  const store = createRoomStore(ctx.client, 'lobby');
  watch(store);
  first.serverClose(1006); // before joined arrived
  await flush();
  await ctx.clock.advance(500);
  const second = ctx.WebSocket.last;
  second.accept();
  await flush();
  assert.equal(second.sentOf('join').length, 1);
  answerJoin(second, 'lobby');
  await flush();
  assert.equal(store.getSnapshot().joined, true);
});

test('a refused join shows as the error; publish goes to the room', async () => {
  const ctx = setup();
  const socket = await connected(ctx);
  const store = createRoomStore(ctx.client, 'secret');
  watch(store);
  const join = socket.lastSent('join');
  socket.receive({ type: 'error', id: join.id, data: { code: 'forbidden', message: 'no' } });
  await flush();
  assert.equal(store.getSnapshot().error.code, 'forbidden');
  assert.equal(store.getSnapshot().joined, false);

  store.publish({ text: 'hi' }, { idempotencyKey: 'k1' }).catch(() => {});
  assert.deepEqual(socket.lastSent('publish').data, { room: 'secret', payload: { text: 'hi' }, idempotencyKey: 'k1' });
});

test('an invalid room name is an error in the snapshot, not a throw', async () => {
  const ctx = setup();
  const socket = await connected(ctx);
  const store = createRoomStore(ctx.client, 'bad room');
  watch(store);
  assert.equal(store.getSnapshot().error.code, 'bad_request');
  assert.equal(socket.sentOf('join').length, 0);
  await assert.rejects(store.publish(1), (e) => e.code === 'bad_request');
});

test('the client store follows state, user and the final error', async () => {
  const ctx = setup();
  const store = createClientStore(ctx.client);
  watch(store);
  assert.deepEqual(store.getSnapshot(), { state: 'idle', user: null, error: null });
  const socket = await connected(ctx, { user: 'alice' });
  assert.deepEqual(store.getSnapshot(), { state: 'connected', user: 'alice', error: null });
  socket.serverClose(4403, 'forbidden');
  const after = store.getSnapshot();
  assert.equal(after.state, 'closed');
  assert.equal(after.error.code, 'forbidden');
});

test('the client store catches up with changes made while nobody subscribed', async () => {
  const ctx = setup();
  const store = createClientStore(ctx.client);
  await connected(ctx, { user: 'alice' });
  assert.equal(store.getSnapshot().state, 'idle');
  watch(store);
  assert.equal(store.getSnapshot().state, 'connected');
  assert.equal(store.getSnapshot().user, 'alice');
});
