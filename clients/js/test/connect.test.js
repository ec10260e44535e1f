import assert from 'node:assert/strict';
import { BrokerClient, BrokerError, resolveWebSocketUrl } from '../src/broker-client.js';
import { test, setup, connected, flush } from '../test-support/setup.js';

test('JWT auth: the token goes in the first frame, never in the URL, and welcome resolves connect()', async () => {
  const ctx = setup();
  const welcomed = ctx.client.connect();
  assert.equal(ctx.client.state, 'connecting');
  await flush();
  const socket = ctx.WebSocket.last;
  assert.equal(socket.url, 'ws://broker.test/ws/chat');
  socket.open();
  assert.deepEqual(socket.sent, [{ type: 'auth', data: { token: 'token-1' } }]);

  socket.receive({ type: 'welcome', data: { connection: 'c9', user: 'alice', node: 'n1', expiresAt: null, heartbeat: { interval: 25000, timeout: 10000 } } });
  const welcome = await welcomed;
  assert.equal(welcome.connection, 'c9');
  assert.equal(ctx.client.state, 'connected');
  assert.equal(ctx.client.user, 'alice');
  assert.equal(ctx.client.connectionId, 'c9');
  assert.deepEqual(ctx.events.states(), ['connecting', 'connected']);
  assert.equal(ctx.events.of('welcome').length, 1);
});

test('connect() while connected resolves with the current welcome and opens nothing new', async () => {
  const ctx = setup();
  await connected(ctx, { connection: 'c1' });
  const again = await ctx.client.connect();
  assert.equal(again.connection, 'c1');
  assert.equal(ctx.WebSocket.instances.length, 1);
});

test('a server ping is answered with pong', async () => {
  const ctx = setup();
  const socket = await connected(ctx);
  socket.receive({ type: 'ping' });
  assert.deepEqual(socket.sent.at(-1), { type: 'pong' });
});

test('ticket auth: POSTs the bearer token for a ticket and connects with ?ticket=, sending no auth frame', async () => {
  const calls = [];
  const fetch = async (url, init) => {
    calls.push({ url, method: init.method, authorization: init.headers.Authorization });
    return { ok: true, status: 200, json: async () => ({ ticket: 'T-1', expiresIn: 30 }) };
  };
  const ctx = setup({ auth: 'ticket', fetch, url: 'wss://broker.test/ws/chat' });
  const welcomed = ctx.client.connect();
  await flush();
  assert.deepEqual(calls, [{ url: 'https://broker.test/auth/ticket', method: 'POST', authorization: 'Bearer token-1' }]);
  const socket = ctx.WebSocket.last;
  assert.equal(socket.url, 'wss://broker.test/ws/chat?ticket=T-1');
  assert.ok(!socket.url.includes('token-1'));
  socket.open();
  assert.deepEqual(socket.sent, []);
  socket.receive({ type: 'welcome', data: { connection: 'c1', user: 'bob', heartbeat: { interval: 25000, timeout: 10000 } } });
  assert.equal((await welcomed).user, 'bob');
});

test('ticket auth: a refused token is retried once with a fresh one, then connect() rejects unauthorized', async () => {
  const seen = [];
  const fetch = async (_url, init) => {
    seen.push(init.headers.Authorization);
    return { ok: false, status: 401, json: async () => ({ error: 'invalid' }) };
  };
  const ctx = setup({ auth: 'ticket', fetch, ticketUrl: '/custom/ticket' });
  const refused = assert.rejects(ctx.client.connect(), (e) => e instanceof BrokerError && e.code === 'unauthorized');
  await ctx.clock.advance(0);
  await refused;
  assert.deepEqual(seen, ['Bearer token-1', 'Bearer token-2']);
  assert.equal(ctx.WebSocket.instances.length, 0);
  assert.equal(ctx.client.state, 'closed');
});

test('ticket auth: the ticket url resolves against the broker origin', async () => {
  let requested;
  const fetch = async (url) => {
    requested = url;
    return { ok: true, status: 200, json: async () => ({ ticket: 'x' }) };
  };
  const ctx = setup({ auth: 'ticket', fetch, url: 'ws://host:5080/ws/chat', ticketUrl: '/custom/ticket' });
  ctx.client.connect();
  await flush();
  assert.equal(requested, 'http://host:5080/custom/ticket');
});

test('JWT refused: error + 4401 → one retry with a fresh token → second 4401 rejects connect() and closes', async () => {
  const ctx = setup();
  const refused = assert.rejects(ctx.client.connect(), (e) => e.code === 'unauthorized' && e.message === 'token rejected' && e.closeCode === 4401);
  await flush();
  const first = ctx.WebSocket.last;
  first.open();
  first.receive({ type: 'error', data: { code: 'unauthorized', message: 'token rejected' } });
  first.serverClose(4401, 'unauthorized');
  await ctx.clock.advance(0); // the retry is immediate, not backed off
  const second = ctx.WebSocket.last;
  assert.notEqual(second, first);
  second.open();
  assert.deepEqual(second.sent, [{ type: 'auth', data: { token: 'token-2' } }]);
  second.receive({ type: 'error', data: { code: 'unauthorized', message: 'token rejected' } });
  second.serverClose(4401, 'unauthorized');
  await refused;
  assert.equal(ctx.client.state, 'closed');
  await ctx.clock.advance(60_000);
  assert.equal(ctx.WebSocket.instances.length, 2);
  assert.deepEqual(ctx.events.of('closed').map((c) => c.willReconnect), [true, false]);
});

test('auth none: no auth frame, welcome is awaited', async () => {
  const ctx = setup({ auth: 'none', token: undefined });
  const welcomed = ctx.client.connect();
  await flush();
  ctx.WebSocket.last.open();
  assert.deepEqual(ctx.WebSocket.last.sent, []);
  ctx.WebSocket.last.receive({ type: 'welcome', data: { user: 'anon-1', heartbeat: { interval: 1000, timeout: 1000 } } });
  assert.equal((await welcomed).user, 'anon-1');
});

test('relative urls resolve against the page location, http → ws and https → wss', () => {
  assert.equal(resolveWebSocketUrl('/ws/chat', { href: 'https://app.example/page' }), 'wss://app.example/ws/chat');
  assert.equal(resolveWebSocketUrl('/ws/chat', { href: 'http://localhost:5080/' }), 'ws://localhost:5080/ws/chat');
  assert.equal(resolveWebSocketUrl('ws://h/ws/chat', undefined), 'ws://h/ws/chat');
  assert.throws(() => resolveWebSocketUrl('/ws/chat', undefined), TypeError);
  assert.throws(() => resolveWebSocketUrl('ftp://h/x', undefined), TypeError);
});

test('the constructor refuses options it cannot work with', () => {
  class WS {}
  assert.throws(() => new BrokerClient({}), TypeError);
  assert.throws(() => new BrokerClient({ url: 'ws://h/ws/chat', WebSocket: WS }), /token/);
  assert.throws(() => new BrokerClient({ url: 'ws://h/ws/chat', token: 't', auth: 'cookie', WebSocket: WS }), /auth/);
  assert.throws(() => new BrokerClient({ url: 'ws://h/ws/chat', token: 't', WebSocket: 42 }), /WebSocket/);
});

test('a static string token is used as is', async () => {
  const ctx = setup({ token: 'static-jwt' });
  ctx.client.connect();
  await flush();
  ctx.WebSocket.last.open();
  assert.deepEqual(ctx.WebSocket.last.sent[0], { type: 'auth', data: { token: 'static-jwt' } });
});
