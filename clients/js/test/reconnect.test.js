import assert from 'node:assert/strict';
import { test, setup, connected, flush } from '../test-support/setup.js';

for (const code of [1001, 1011, 4508, 1006, 1008, 1009, 4500]) {
  test(`close ${code} reconnects after a backoff delay`, async () => {
    const ctx = setup();
    const first = await connected(ctx);
    first.serverClose(code, 'bye');
    assert.equal(ctx.client.state, 'reconnecting');
    assert.deepEqual(ctx.events.of('closed').at(-1), { code, reason: 'bye', willReconnect: true, delay: 500 });
    await ctx.clock.advance(499);
    assert.equal(ctx.WebSocket.instances.length, 1, 'not before the delay');
    await ctx.clock.advance(1);
    assert.equal(ctx.WebSocket.instances.length, 2);
    ctx.WebSocket.last.accept();
    await flush();
    assert.equal(ctx.client.state, 'connected');
    assert.deepEqual(ctx.events.states(), ['connecting', 'connected', 'reconnecting', 'connected']);
  });
}

for (const code of [1000, 4403, 4000, 4499]) {
  test(`close ${code} from the server is final: no reconnect`, async () => {
    const ctx = setup();
    const first = await connected(ctx);
    first.serverClose(code, 'done');
    assert.equal(ctx.client.state, 'closed');
    await ctx.clock.advance(10 * 60_000);
    assert.equal(ctx.WebSocket.instances.length, 1);
    const closed = ctx.events.of('closed');
    assert.equal(closed.length, 1);
    assert.equal(closed[0].willReconnect, false);
    assert.equal(closed[0].code, code);
  });
}

test('4401 after a session: one immediate retry with a fresh token; a second 4401 closes for good', async () => {
  const ctx = setup();
  const first = await connected(ctx);
  first.serverClose(4401, 'token expired');
  assert.equal(ctx.client.state, 'reconnecting');
  await ctx.clock.advance(0);
  const second = ctx.WebSocket.last;
  assert.notEqual(second, first);
  second.open();
  assert.equal(second.sent[0].data.token, 'token-2');
  second.serverClose(4401, 'unauthorized');
  assert.equal(ctx.client.state, 'closed');
  await ctx.clock.advance(60_000);
  assert.equal(ctx.WebSocket.instances.length, 2);
});

test('the fresh-token retry is available again after a successful welcome', async () => {
  const ctx = setup();
  (await connected(ctx)).serverClose(4401, 'token expired');
  await ctx.clock.advance(0);
  ctx.WebSocket.last.accept();
  await flush();
  ctx.WebSocket.last.serverClose(4401, 'token expired');
  assert.equal(ctx.client.state, 'reconnecting');
});

test('backoff grows over failed attempts and resets after a welcome', async () => {
  const ctx = setup();
  (await connected(ctx)).serverClose(1006);
  const delays = [];
  for (let i = 0; i < 6; i++) {
    delays.push(ctx.events.of('closed').at(-1).delay);
    await ctx.clock.advance(delays.at(-1));
    ctx.WebSocket.last.serverClose(1006); // the attempt fails before opening
  }
  assert.deepEqual(delays, [500, 1000, 2000, 4000, 8000, 15000]);
  assert.equal(ctx.events.of('closed').at(-1).delay, 15000);
  await ctx.clock.advance(15000);
  ctx.WebSocket.last.accept();
  await flush();
  ctx.WebSocket.last.serverClose(1001);
  assert.equal(ctx.events.of('closed').at(-1).delay, 500);
});

test('jittered delays stay within [base · (1 − jitter), base]', async () => {
  const ctx = setup({ reconnect: { initialDelay: 1000, jitter: 0.5 } });
  ctx.clock.randomValues = [0.3, 0.999, 0.5, 0.999];
  (await connected(ctx)).serverClose(1011);
  await ctx.clock.advance(ctx.events.of('closed').at(-1).delay);
  ctx.WebSocket.last.serverClose(1006);
  await ctx.clock.advance(ctx.events.of('closed').at(-1).delay);
  ctx.WebSocket.last.serverClose(1006);
  // random() is first used for the id prefix, then once per delay: 0.999, 0.5, 0.999
  assert.deepEqual(ctx.events.of('closed').map((c) => c.delay), [500, 1500, 2002]);
});

test('maxAttempts ends reconnecting: state closed and connect() rejects with disconnected', async () => {
  const ctx = setup({ reconnect: { maxAttempts: 2 } });
  const failed = assert.rejects(ctx.client.connect(), (e) => e.code === 'disconnected');
  await flush();
  ctx.WebSocket.last.serverClose(1006);
  await ctx.clock.advance(500);
  ctx.WebSocket.last.serverClose(1006);
  await ctx.clock.advance(1000);
  ctx.WebSocket.last.serverClose(1006);
  await failed;
  assert.equal(ctx.client.state, 'closed');
  assert.equal(ctx.WebSocket.instances.length, 3);
});

test('close() stops: closes the socket with 1000, rejects pending requests and never reconnects', async () => {
  const ctx = setup();
  const socket = await connected(ctx);
  const pending = assert.rejects(ctx.client.publish('lobby', 1), (e) => e.code === 'closed');
  ctx.client.close();
  await pending;
  assert.equal(socket.closedBy.code, 1000);
  assert.equal(ctx.client.state, 'closed');
  await ctx.clock.advance(60_000);
  assert.equal(ctx.WebSocket.instances.length, 1);
  assert.deepEqual(ctx.events.of('closed').map((c) => [c.code, c.willReconnect]), [[1000, false]]);
});

test('rooms survive a final server close for a later connect(), but not an explicit close()', async () => {
  const ctx = setup();
  const socket = await connected(ctx);
  const joining = ctx.client.join('lobby');
  socket.receive({ type: 'joined', id: socket.lastSent('join').id, data: { room: 'lobby', epoch: 'e1', offset: 4, members: [], recovered: false } });
  await joining;
  socket.serverClose(4403);
  const again = await connected(ctx);
  assert.deepEqual(again.lastSent('join').data, { room: 'lobby', since: { epoch: 'e1', offset: 4 } });
  again.serverClose(4403);
  ctx.client.close();
  assert.equal(ctx.client.rooms.size, 0);
});

test('close() during a backoff cancels the pending reconnect; connect() afterwards starts over', async () => {
  const ctx = setup();
  (await connected(ctx)).serverClose(1006);
  ctx.client.close();
  await ctx.clock.advance(60_000);
  assert.equal(ctx.WebSocket.instances.length, 1);
  const socket = await connected(ctx);
  assert.equal(ctx.WebSocket.instances.length, 2);
  assert.equal(socket.sent[0].type, 'auth');
  assert.equal(ctx.client.state, 'connected');
});

test('a failing token provider is reported and retried with backoff', async () => {
  let calls = 0;
  const ctx = setup({ token: async () => { if (++calls === 1) throw new Error('auth server down'); return 'jwt'; } });
  ctx.client.connect();
  await flush();
  assert.equal(ctx.events.of('error')[0].code, 'token_error');
  assert.equal(ctx.WebSocket.instances.length, 0);
  await ctx.clock.advance(500);
  assert.equal(ctx.WebSocket.instances.length, 1);
});
