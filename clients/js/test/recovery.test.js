import assert from 'node:assert/strict';
import { test, setup, connected, joinRoom, message, flush } from '../test-support/setup.js';

/** Drops the connection, lets the backoff pass and completes the new handshake. */
async function reconnect(ctx, code = 1006) {
  ctx.WebSocket.last.serverClose(code);
  await ctx.clock.advance(ctx.events.of('closed').at(-1).delay);
  const socket = ctx.WebSocket.last;
  socket.accept();
  await flush();
  return socket;
}

const offsets = (ctx) => ctx.events.of('message').map((m) => `${m.epoch}:${m.offset}`);

test('join resolves with the joined data and tracks epoch, offset and members', async () => {
  const ctx = setup();
  const socket = await connected(ctx);
  const joined = await joinRoom(ctx, socket, 'lobby', { epoch: 'e1', offset: 3, members: ['alice', 'bob'] });
  assert.deepEqual(joined, { room: 'lobby', epoch: 'e1', offset: 3, members: ['alice', 'bob'], recovered: false });
  const room = ctx.client.rooms.get('lobby');
  assert.equal(room.epoch, 'e1');
  assert.equal(room.offset, 3);
  assert.deepEqual([...room.members], ['alice', 'bob']);
  assert.equal(ctx.events.of('recovered').length, 0, 'a fresh join is not a recovery');
});

test('after a reconnect every room is rejoined with since = the last offset seen, and missed messages arrive once', async () => {
  const ctx = setup();
  const first = await connected(ctx);
  await joinRoom(ctx, first, 'lobby', { offset: 3 });
  await joinRoom(ctx, first, 'other', { epoch: 'x', offset: 10 });
  first.receive(message('lobby', 4));
  first.receive(message('lobby', 5));

  const second = await reconnect(ctx);
  const joins = second.sentOf('join');
  assert.deepEqual(joins.map((f) => f.data), [
    { room: 'lobby', since: { epoch: 'e1', offset: 5 } },
    { room: 'other', since: { epoch: 'x', offset: 10 } },
  ]);
  assert.equal(ctx.client.rooms.get('lobby').joined, false, 'not joined until the server says so');

  // The server replays from the since offset (5 overlaps), then answers joined.
  second.receive(message('lobby', 5));
  second.receive(message('lobby', 6));
  second.receive(message('lobby', 7));
  second.receive({ type: 'joined', id: joins[0].id, data: { room: 'lobby', epoch: 'e1', offset: 7, members: ['alice'], recovered: true } });
  second.receive(message('lobby', 7)); // a duplicate live copy is dropped too
  second.receive(message('lobby', 8));

  assert.deepEqual(offsets(ctx), ['e1:4', 'e1:5', 'e1:6', 'e1:7', 'e1:8']);
  assert.deepEqual(ctx.events.of('recovered'), [{ room: 'lobby', recovered: true, epochChanged: false, missed: 2 }]);
  assert.equal(ctx.client.rooms.get('lobby').offset, 8);
  assert.equal(ctx.client.rooms.get('lobby').joined, true);
});

test('a new epoch after reconnect reports recovered:false with epochChanged, and its messages are not mistaken for duplicates', async () => {
  const ctx = setup();
  const first = await connected(ctx);
  await joinRoom(ctx, first, 'lobby', { offset: 40 });
  const second = await reconnect(ctx);
  const join = second.lastSent('join');
  second.receive({ type: 'joined', id: join.id, data: { room: 'lobby', epoch: 'e2', offset: 0, members: [], recovered: false } });
  second.receive(message('lobby', 1, 'e2'));
  assert.deepEqual(ctx.events.of('recovered'), [{ room: 'lobby', recovered: false, epochChanged: true, missed: 0 }]);
  assert.deepEqual(offsets(ctx), ['e2:1']);
  assert.equal(ctx.client.rooms.get('lobby').epoch, 'e2');
});

test('history that no longer reaches back reports recovered:false on the same epoch', async () => {
  const ctx = setup();
  const first = await connected(ctx);
  await joinRoom(ctx, first, 'lobby', { offset: 2 });
  const second = await reconnect(ctx, 1001);
  const join = second.lastSent('join');
  second.receive(message('lobby', 150));
  second.receive({ type: 'joined', id: join.id, data: { room: 'lobby', epoch: 'e1', offset: 150, members: [], recovered: false } });
  assert.deepEqual(ctx.events.of('recovered'), [{ room: 'lobby', recovered: false, epochChanged: false, missed: 1 }]);
});

test('a rejoin that never completed is retried from the same point on the next connection', async () => {
  const ctx = setup();
  const first = await connected(ctx);
  await joinRoom(ctx, first, 'lobby', { offset: 5 });
  await reconnect(ctx);               // rejoin sent, then the socket dies before joined
  const third = await reconnect(ctx);
  assert.deepEqual(third.lastSent('join').data, { room: 'lobby', since: { epoch: 'e1', offset: 5 } });
  third.receive({ type: 'joined', id: third.lastSent('join').id, data: { room: 'lobby', epoch: 'e1', offset: 5, members: [], recovered: true } });
  assert.equal(ctx.events.of('recovered').length, 1);
});

test('a left room is not rejoined', async () => {
  const ctx = setup();
  const first = await connected(ctx);
  await joinRoom(ctx, first, 'lobby');
  ctx.client.leave('lobby').catch(() => {});
  assert.equal(ctx.client.rooms.has('lobby'), false);
  const second = await reconnect(ctx);
  assert.equal(second.sentOf('join').length, 0);
});

test('leave() while a join is in flight: the late joined does not bring the room back', async () => {
  const ctx = setup();
  const first = await connected(ctx);
  const joining = ctx.client.join('lobby');
  const join = first.lastSent('join');
  ctx.client.leave('lobby').catch(() => {});
  first.receive({ type: 'joined', id: join.id, data: { room: 'lobby', epoch: 'e1', offset: 0, members: [], recovered: false } });
  await joining;
  assert.equal(ctx.client.rooms.has('lobby'), false);
  const second = await reconnect(ctx);
  assert.equal(second.sentOf('join').length, 0);
});

test('a join whose reply was lost to a drop is rejected, not silently rejoined', async () => {
  const ctx = setup();
  const first = await connected(ctx);
  const joining = assert.rejects(ctx.client.join('lobby'), (e) => e.code === 'disconnected');
  const second = await reconnect(ctx);
  await joining;
  assert.equal(second.sentOf('join').length, 0);
  assert.equal(first.sentOf('join').length, 1);
});

test('a refused rejoin removes the room and reports an error naming it', async () => {
  const ctx = setup();
  const first = await connected(ctx);
  await joinRoom(ctx, first, 'lobby');
  const second = await reconnect(ctx);
  second.receive({ type: 'error', id: second.lastSent('join').id, data: { code: 'forbidden', message: 'no longer allowed' } });
  await flush();
  const [error] = ctx.events.of('error');
  assert.equal(error.code, 'forbidden');
  assert.equal(error.room, 'lobby');
  assert.equal(ctx.client.rooms.has('lobby'), false);
});

test('join with an explicit since resumes from it and reports recovered', async () => {
  const ctx = setup();
  const socket = await connected(ctx);
  const joining = ctx.client.join('lobby', { since: { epoch: 'e1', offset: 10 } });
  const frame = socket.lastSent('join');
  assert.deepEqual(frame.data, { room: 'lobby', since: { epoch: 'e1', offset: 10 } });
  socket.receive(message('lobby', 10));
  socket.receive(message('lobby', 11));
  socket.receive({ type: 'joined', id: frame.id, data: { room: 'lobby', epoch: 'e1', offset: 11, members: [], recovered: true } });
  await joining;
  assert.deepEqual(offsets(ctx), ['e1:11']);
  assert.deepEqual(ctx.events.of('recovered'), [{ room: 'lobby', recovered: true, epochChanged: false, missed: 1 }]);
});

test('presence updates the member set before it is emitted', async () => {
  const ctx = setup();
  const socket = await connected(ctx);
  await joinRoom(ctx, socket, 'lobby', { members: ['alice'] });
  let seen;
  ctx.client.on('presence', () => { seen = [...ctx.client.rooms.get('lobby').members]; });
  socket.receive({ type: 'presence', data: { room: 'lobby', event: 'join', user: 'bob' } });
  assert.deepEqual(seen, ['alice', 'bob']);
  socket.receive({ type: 'presence', data: { room: 'lobby', event: 'leave', user: 'alice' } });
  assert.deepEqual(seen, ['bob']);
});

test('occupancy, sent instead of presence in a storm, is emitted with its count', async () => {
  const ctx = setup();
  const socket = await connected(ctx);
  await joinRoom(ctx, socket, 'lobby', { members: ['alice'] });
  const counts = [];
  ctx.client.on('occupancy', (data) => counts.push(data));
  socket.receive({ type: 'occupancy', data: { room: 'lobby', count: 250 } });
  assert.deepEqual(counts, [{ room: 'lobby', count: 250 }]);
});

test('messages of rooms the client does not track are passed through', async () => {
  const ctx = setup();
  const socket = await connected(ctx);
  socket.receive({ type: 'message', data: { room: null, offset: 1, epoch: null, from: 'server', payload: 'all' } });
  socket.receive(message('unknown', 1));
  socket.receive(message('unknown', 1));
  assert.equal(ctx.events.of('message').length, 3);
});

test('a rejoin with no answer in time is asked again (its room died with the node and comes back later)', async () => {
  const ctx = setup();
  const first = await connected(ctx);
  await joinRoom(ctx, first, 'lobby', { offset: 4 });
  const second = await reconnect(ctx);
  const unanswered = second.lastSent('join');

  await ctx.clock.advance(10000); // the request timeout passes with no reply
  await flush();

  const again = second.lastSent('join');
  assert.notEqual(again.id, unanswered.id);
  assert.deepEqual(again.data, { room: 'lobby', since: { epoch: 'e1', offset: 4 } });
  assert.equal(ctx.events.of('error').length, 0, 'not given up');
  second.receive({ type: 'joined', id: again.id, data: { room: 'lobby', epoch: 'e2', offset: 0, members: ['alice'], recovered: false } });
  await flush();
  assert.equal(ctx.client.rooms.get('lobby').epoch, 'e2');
  assert.equal(ctx.events.of('recovered').at(-1).recovered, false);
});
