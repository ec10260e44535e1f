import assert from 'node:assert/strict';
import { createRoomStore } from '../src/stores.js';
import { test, setup, connected, joinRoom, message, flush } from '../test-support/setup.js';

// PROTOCOL §9.1: a room whose host died lost its history while this client stayed joined. The
// server sends every message of the new epoch from offset 1, then a `joined` without an id.

const offsets = (ctx) => ctx.events.of('message').map((m) => `${m.epoch}:${m.offset}`);

function resyncJoined(room, epoch, offset, extra = {}) {
  return { type: 'joined', data: { room, epoch, offset, members: ['alice', 'bob'], recovered: false, ...extra } };
}

test('a resync delivers the new epoch from offset 1 in order, moves the cursor and emits resynced', async () => {
  const ctx = setup();
  const socket = await connected(ctx);
  await joinRoom(ctx, socket, 'lobby', { offset: 40 });
  socket.receive(message('lobby', 41));
  socket.receive(message('lobby', 42));

  // Offsets below the old cursor, in another epoch: new messages, not duplicates.
  socket.receive(message('lobby', 1, 'e2'));
  socket.receive(message('lobby', 2, 'e2'));
  socket.receive(message('lobby', 3, 'e2'));
  socket.receive(resyncJoined('lobby', 'e2', 3));

  assert.deepEqual(offsets(ctx), ['e1:41', 'e1:42', 'e2:1', 'e2:2', 'e2:3']);
  assert.deepEqual(ctx.events.of('resynced'), [{ room: 'lobby', epoch: 'e2', offset: 3, recovered: false }]);
  const room = ctx.client.rooms.get('lobby');
  assert.equal(room.epoch, 'e2');
  assert.equal(room.offset, 3);
  assert.deepEqual([...room.members], ['alice', 'bob']);
  assert.equal(room.joined, true, 'still joined: a resync is not a rejoin');
  assert.equal(ctx.events.of('recovered').length, 0, 'no rejoin happened');
  assert.equal(ctx.events.of('error').length, 0);
});

test('the resynced event comes after the new epoch\'s messages, and live ones follow without duplicates', async () => {
  const ctx = setup();
  const socket = await connected(ctx);
  await joinRoom(ctx, socket, 'lobby', { offset: 5 });
  socket.receive(message('lobby', 1, 'e2'));
  socket.receive(resyncJoined('lobby', 'e2', 1));
  socket.receive(message('lobby', 1, 'e2')); // a live copy of what the resync delivered
  socket.receive(message('lobby', 2, 'e2'));
  const order = ctx.events.log.filter(([n]) => n === 'message' || n === 'resynced').map(([n, p]) => (n === 'message' ? `${p.epoch}:${p.offset}` : n));
  assert.deepEqual(order, ['e2:1', 'resynced', 'e2:2']);
});

test('late messages of the lost epoch are dropped once the cursor moved on', async () => {
  const ctx = setup();
  const socket = await connected(ctx);
  await joinRoom(ctx, socket, 'lobby', { offset: 10 });
  socket.receive(message('lobby', 1, 'e2'));
  socket.receive(message('lobby', 11, 'e1')); // in flight from the dead host
  socket.receive(message('lobby', 2, 'e2'));
  socket.receive(resyncJoined('lobby', 'e2', 2));
  socket.receive(message('lobby', 12, 'e1'));
  assert.deepEqual(offsets(ctx), ['e2:1', 'e2:2']);
  assert.equal(ctx.client.rooms.get('lobby').epoch, 'e2');
});

test('a resync of an empty new epoch moves the cursor to offset 0 there', async () => {
  const ctx = setup();
  const socket = await connected(ctx);
  await joinRoom(ctx, socket, 'lobby', { offset: 7 });
  socket.receive(resyncJoined('lobby', 'e2', 0));
  assert.deepEqual(ctx.events.of('resynced'), [{ room: 'lobby', epoch: 'e2', offset: 0, recovered: false }]);
  socket.receive(message('lobby', 1, 'e2'));
  assert.deepEqual(offsets(ctx), ['e2:1']);
});

test('after a resync a reconnect rejoins with since = the new epoch and offset', async () => {
  const ctx = setup();
  const first = await connected(ctx);
  await joinRoom(ctx, first, 'lobby', { offset: 40 });
  first.receive(message('lobby', 1, 'e2'));
  first.receive(message('lobby', 2, 'e2'));
  first.receive(resyncJoined('lobby', 'e2', 2));
  first.receive(message('lobby', 3, 'e2'));

  first.serverClose(1001);
  await ctx.clock.advance(ctx.events.of('closed').at(-1).delay);
  const second = ctx.WebSocket.last;
  second.accept();
  await flush();
  const join = second.lastSent('join');
  assert.deepEqual(join.data, { room: 'lobby', since: { epoch: 'e2', offset: 3 } });
  second.receive(message('lobby', 4, 'e2'));
  second.receive({ type: 'joined', id: join.id, data: { room: 'lobby', epoch: 'e2', offset: 4, members: [], recovered: true } });
  assert.deepEqual(offsets(ctx), ['e2:1', 'e2:2', 'e2:3', 'e2:4']);
  assert.deepEqual(ctx.events.of('recovered'), [{ room: 'lobby', recovered: true, epochChanged: false, missed: 1 }]);
});

test('a joined without an id for a room the client is not in is ignored', async () => {
  const ctx = setup();
  const socket = await connected(ctx);
  await joinRoom(ctx, socket, 'lobby');
  ctx.client.leave('lobby').catch(() => {});
  socket.receive(resyncJoined('lobby', 'e2', 3));
  socket.receive(resyncJoined('never-joined', 'e9', 1));
  assert.equal(ctx.events.of('resynced').length, 0);
  assert.equal(ctx.client.rooms.has('lobby'), false, 'a resync does not bring a left room back');
  assert.equal(ctx.client.rooms.has('never-joined'), false);
});

test('a resync without a members list keeps the members the client knew', async () => {
  const ctx = setup();
  const socket = await connected(ctx);
  await joinRoom(ctx, socket, 'lobby', { members: ['alice', 'carol'] });
  socket.receive({ type: 'joined', data: { room: 'lobby', epoch: 'e2', offset: 0, count: 2, recovered: false } });
  assert.deepEqual([...ctx.client.rooms.get('lobby').members], ['alice', 'carol']);
  assert.equal(ctx.events.of('resynced').length, 1);
});

test('the room store exposes the last resync and keeps the messages it had', async () => {
  const ctx = setup();
  const socket = await connected(ctx);
  const store = createRoomStore(ctx.client, 'lobby');
  let notified = 0;
  store.subscribe(() => { notified++; });
  const join = socket.lastSent('join');
  socket.receive({ type: 'joined', id: join.id, data: { room: 'lobby', epoch: 'e1', offset: 0, members: ['alice'], recovered: false } });
  await flush();
  socket.receive(message('lobby', 1));
  assert.equal(store.getSnapshot().resync, null);

  socket.receive(message('lobby', 1, 'e2'));
  socket.receive(resyncJoined('lobby', 'e2', 1));
  const snapshot = store.getSnapshot();
  assert.deepEqual(snapshot.resync, { room: 'lobby', epoch: 'e2', offset: 1, recovered: false });
  assert.deepEqual(snapshot.messages.map((m) => `${m.epoch}:${m.offset}`), ['e1:1', 'e2:1']);
  assert.deepEqual(snapshot.members, ['alice', 'bob']);
  assert.equal(snapshot.joined, true);
  assert.ok(notified >= 4);

  socket.receive(resyncJoined('other', 'e5', 0));
  assert.equal(store.getSnapshot().resync.room, 'lobby', 'another room\'s resync is not this store\'s');
});
