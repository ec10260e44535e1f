import assert from 'node:assert/strict';
import { test, setup, connected } from '../test-support/setup.js';

// PROTOCOL §9.3: a room sends its member list (full presence) or only counts (counts, off, or a
// full room past MaxPresenceMembers). The client keeps whichever it gets, and the count always.

async function join(ctx, socket, room, data) {
  const joining = ctx.client.join(room);
  const frame = socket.lastSent('join');
  socket.receive({ type: 'joined', id: frame.id, data: { room, epoch: 'e1', offset: 0, recovered: false, ...data } });
  return joining;
}

test('a joined without members resolves, keeps the count and marks the list as not sent', async () => {
  const ctx = setup();
  const socket = await connected(ctx);
  const joined = await join(ctx, socket, 'big', { count: 15000 });
  assert.equal(joined.count, 15000);
  assert.equal(joined.members, undefined);
  const room = ctx.client.rooms.get('big');
  assert.equal(room.joined, true);
  assert.equal(room.count, 15000);
  assert.equal(room.membersListed, false);
  assert.deepEqual([...room.members], []);
});

test('occupancy updates the room count and is emitted', async () => {
  const ctx = setup();
  const socket = await connected(ctx);
  await join(ctx, socket, 'big', { count: 3 });
  socket.receive({ type: 'occupancy', data: { room: 'big', count: 7 } });
  assert.equal(ctx.client.rooms.get('big').count, 7);
  assert.deepEqual(ctx.events.of('occupancy'), [{ room: 'big', count: 7 }]);
});

test('in a full room presence frames keep the list and the count in step', async () => {
  const ctx = setup();
  const socket = await connected(ctx);
  await join(ctx, socket, 'lobby', { members: ['alice', 'bob'], count: 2 });
  socket.receive({ type: 'presence', data: { room: 'lobby', event: 'join', user: 'carol' } });
  socket.receive({ type: 'presence', data: { room: 'lobby', event: 'leave', user: 'alice' } });
  const room = ctx.client.rooms.get('lobby');
  assert.equal(room.membersListed, true);
  assert.deepEqual([...room.members].sort(), ['bob', 'carol']);
  assert.equal(room.count, 2);
});

test('a joined from a server before counts (members, no count) counts its list', async () => {
  const ctx = setup();
  const socket = await connected(ctx);
  await join(ctx, socket, 'lobby', { members: ['alice', 'bob', 'carol'] });
  assert.equal(ctx.client.rooms.get('lobby').count, 3);
});
