import assert from 'node:assert/strict';
import { sseUrlFor } from '../src/broker-client.js';
import { EventStreamParser, MAX_POST_ENVELOPES } from '../src/sse-socket.js';
import { createFakeSse } from '../test-support/fake-sse.js';
import { test, setup, flush, message } from '../test-support/setup.js';

/** A few macrotask turns: a streamed chunk goes through the reader, the decoder and the parser. */
async function settle() {
  for (let i = 0; i < 5; i++) await flush();
}

/** A heartbeat the watchdog does not act on within the minutes a test's clock skips. */
const quiet = { interval: 3_600_000, timeout: 10_000 };

function sseSetup(options = {}, { eventSource = false } = {}) {
  const sse = createFakeSse();
  const ctx = setup({ transport: 'auto', fetch: sse.fetch, EventSource: eventSource ? sse.EventSource : null, ...options });
  return { ...ctx, sse };
}

/** Two WebSocket attempts that never open (a proxy that strips Upgrade): the fallback's trigger. */
async function failWebSocketTwice(ctx) {
  await flush();
  ctx.WebSocket.last.serverClose(1006);
  await ctx.clock.advance(ctx.clock.pendingDelays[0] ?? 0);
  ctx.WebSocket.last.serverClose(1006);
  await ctx.clock.advance(0);
  await settle();
}

/** Connected over SSE with `transport: 'sse'`; returns the stream. */
async function sseConnected(ctx, welcome = {}) {
  const welcomed = ctx.client.connect();
  await settle();
  const stream = ctx.sse.lastStream;
  stream.welcome(welcome);
  await settle();
  await welcomed;
  return stream;
}

test('auto: two WebSocket attempts that never open switch to SSE at once, with the bearer on the GET and no auth frame', async () => {
  const ctx = sseSetup();
  const welcomed = ctx.client.connect();
  await failWebSocketTwice(ctx);
  assert.equal(ctx.WebSocket.instances.length, 2);
  assert.equal(ctx.sse.streams.length, 1, 'the switch does not wait out a backoff');
  const stream = ctx.sse.lastStream;
  assert.equal(stream.url, 'ws://broker.test/ws/chat'.replace('ws:', 'http:').replace('/ws/', '/sse/'));
  assert.equal(stream.headers.Accept, 'text/event-stream');
  assert.equal(stream.headers.Authorization, 'Bearer token-3');
  assert.equal(ctx.client.transport, 'sse');
  stream.welcome({ connection: 'c7' });
  await settle();
  assert.equal((await welcomed).connection, 'c7');
  assert.equal(ctx.client.state, 'connected');
  assert.deepEqual(ctx.sse.posts, [], 'an SSE stream is authenticated by its GET');
});

test('auto: a WebSocket that opened and was closed with a code is not a reason to fall back', async () => {
  const ctx = sseSetup();
  ctx.client.connect();
  for (let i = 0; i < 3; i++) {
    await flush();
    const socket = ctx.WebSocket.last;
    socket.open();
    socket.serverClose(1011, 'internal');
    await ctx.clock.advance(ctx.clock.pendingDelays[0]);
  }
  assert.equal(ctx.WebSocket.instances.length, 4);
  assert.equal(ctx.sse.streams.length, 0);
  assert.equal(ctx.client.transport, 'websocket');
});

test("transport 'websocket' never falls back; transport 'sse' needs no WebSocket at all", async () => {
  const ws = sseSetup({ transport: 'websocket' });
  ws.client.connect();
  for (let i = 0; i < 4; i++) {
    await flush();
    ws.WebSocket.last.serverClose(1006);
    await ws.clock.advance(ws.clock.pendingDelays[0]);
  }
  assert.equal(ws.sse.streams.length, 0);

  const sse = sseSetup({ transport: 'sse', WebSocket: undefined });
  const stream = await sseConnected(sse);
  assert.equal(sse.WebSocket.instances.length, 0);
  assert.equal(sse.client.transport, 'sse');
  assert.equal(stream.url, 'http://broker.test/sse/chat');
});

test('frames sent in one tick go out as one POST (a JSON array) to /sse/{route}/{session}; replies on the stream settle them', async () => {
  const ctx = sseSetup({ transport: 'sse' });
  const stream = await sseConnected(ctx, { session: 'Sess_1' });
  const joined = ctx.client.join('lobby');
  const acked = ctx.client.publish('lobby', { text: 'hi' });
  await settle();
  assert.equal(ctx.sse.posts.length, 1);
  const post = ctx.sse.posts[0];
  assert.equal(post.url, 'http://broker.test/sse/chat/Sess_1');
  assert.equal(post.headers.Authorization, 'Bearer token-1');
  assert.equal(post.headers['Content-Type'], 'application/json');
  assert.deepEqual(post.frames.map((f) => f.type), ['join', 'publish']);
  assert.ok(post.body.startsWith('['));
  const [join, publish] = post.frames;
  stream.event({ type: 'joined', id: join.id, data: { room: 'lobby', epoch: 'e1', offset: 0, members: ['alice'], recovered: false } });
  stream.event({ type: 'ack', id: publish.id, data: { offset: 1, epoch: 'e1' } });
  await settle();
  assert.equal((await joined).room, 'lobby');
  assert.deepEqual(await acked, { offset: 1, epoch: 'e1' });

  // A single frame is POSTed as itself, not as an array of one.
  ctx.client.send('bob', { x: 1 });
  await settle();
  assert.ok(ctx.sse.posts[1].body.startsWith('{'));
});

test('while a POST is in flight later frames wait and go together in the next, in order; at most 100 per POST', async () => {
  const ctx = sseSetup({ transport: 'sse' });
  await sseConnected(ctx);
  const release = ctx.sse.holdPosts();
  ctx.client.send('bob', 0).catch(() => {});
  await settle();
  for (let i = 1; i <= MAX_POST_ENVELOPES + 5; i++) ctx.client.send('bob', i).catch(() => {});
  await settle();
  assert.equal(ctx.sse.posts.length, 1, 'one request at a time');
  release();
  await settle();
  assert.deepEqual(ctx.sse.posts.map((p) => p.frames.length), [1, MAX_POST_ENVELOPES, 5]);
  assert.deepEqual(ctx.sse.postedFrames.map((f) => f.data.payload), Array.from({ length: MAX_POST_ENVELOPES + 6 }, (_, i) => i));
  ctx.client.close();
});

test('a ping event is answered with a POSTed pong, and the watchdog runs on SSE events', async () => {
  const ctx = sseSetup({ transport: 'sse' });
  const stream = await sseConnected(ctx, { heartbeat: { interval: 1000, timeout: 500 } });
  for (let i = 0; i < 5; i++) {
    await ctx.clock.advance(1000);
    stream.event({ type: 'ping' });
    await settle();
  }
  assert.deepEqual(ctx.sse.postedFrames, Array.from({ length: 5 }, () => ({ type: 'pong' })));
  await ctx.clock.advance(1500);
  assert.equal(stream.closedByClient, true, 'silence for interval + timeout drops the stream');
  assert.equal(ctx.client.state, 'reconnecting');
});

test('recovery over SSE: a close event 4500 reconnects with backoff on a new stream and rejoins with since', async () => {
  const ctx = sseSetup({ transport: 'sse' });
  const stream = await sseConnected(ctx);
  const joined = ctx.client.join('lobby');
  await settle();
  stream.event({ type: 'joined', id: ctx.sse.postedFrames[0].id, data: { room: 'lobby', epoch: 'e1', offset: 3, members: ['alice'], recovered: false } });
  stream.event(message('lobby', 4));
  await settle();
  await joined;

  stream.close(4500, 'disconnected');
  await settle();
  assert.equal(ctx.client.state, 'reconnecting');
  assert.deepEqual(ctx.events.of('closed').at(-1), { code: 4500, reason: 'disconnected', willReconnect: true, delay: 500 });
  await ctx.clock.advance(500);
  await settle();
  const next = ctx.sse.lastStream;
  assert.notEqual(next, stream);
  next.welcome({ session: 'S-2' });
  await settle();
  const rejoin = ctx.sse.posts.at(-1);
  assert.equal(rejoin.url, 'http://broker.test/sse/chat/S-2');
  assert.deepEqual(rejoin.frames[0].data, { room: 'lobby', since: { epoch: 'e1', offset: 4 } });
  next.event(message('lobby', 4)); // an overlap is dropped
  next.event(message('lobby', 5));
  next.event({ type: 'joined', id: rejoin.frames[0].id, data: { room: 'lobby', epoch: 'e1', offset: 5, members: ['alice'], recovered: true } });
  await settle();
  assert.deepEqual(ctx.events.of('message').map((m) => m.offset), [4, 5]);
  assert.deepEqual(ctx.events.of('recovered'), [{ room: 'lobby', recovered: true, epochChanged: false, missed: 1 }]);
});

test('a close event with a 4000–4499 code stops, as the same WebSocket close would', async () => {
  const ctx = sseSetup({ transport: 'sse' });
  const stream = await sseConnected(ctx);
  stream.close(4403, 'forbidden');
  await settle();
  assert.equal(ctx.client.state, 'closed');
  assert.equal(ctx.events.of('closed').at(-1).willReconnect, false);
});

test('auto: on SSE, the first reconnect after retryWebSocketAfter tries WebSocket; if it fails SSE is back at once, if it works it stays', async () => {
  const ctx = sseSetup({ fallback: { retryWebSocketAfter: 60_000 } });
  ctx.client.connect();
  await failWebSocketTwice(ctx);
  ctx.sse.lastStream.welcome({ heartbeat: quiet });
  await settle();
  assert.equal(ctx.client.transport, 'sse');

  // A drop before the period is over reconnects on SSE.
  ctx.sse.lastStream.end();
  await settle();
  await ctx.clock.advance(ctx.clock.pendingDelays[0]);
  await settle();
  assert.equal(ctx.sse.streams.length, 2);
  assert.equal(ctx.WebSocket.instances.length, 2);
  ctx.sse.lastStream.welcome({ heartbeat: quiet });
  await settle();

  await ctx.clock.advance(60_000);
  ctx.sse.lastStream.close(1001, 'node shutting down');
  await settle();
  await ctx.clock.advance(ctx.clock.pendingDelays[0]);
  assert.equal(ctx.WebSocket.instances.length, 3, 'the period is over: WebSocket is tried again');
  assert.equal(ctx.client.transport, 'websocket');
  ctx.WebSocket.last.serverClose(1006);
  await ctx.clock.advance(0);
  await settle();
  assert.equal(ctx.sse.streams.length, 3, 'still blocked: back on SSE without a backoff');
  ctx.sse.lastStream.welcome({ heartbeat: quiet });
  await settle();
  assert.equal(ctx.client.transport, 'sse');

  await ctx.clock.advance(60_000);
  ctx.sse.lastStream.close(1001, 'node shutting down');
  await settle();
  await ctx.clock.advance(ctx.clock.pendingDelays[0]);
  ctx.WebSocket.last.accept();
  await settle();
  assert.equal(ctx.client.transport, 'websocket');
  ctx.WebSocket.last.serverClose(1001);
  await ctx.clock.advance(ctx.clock.pendingDelays[0]);
  assert.equal(ctx.WebSocket.instances.length, 5, 'WebSocket works again: it stays');
  assert.equal(ctx.sse.streams.length, 3);
});

test('auto: an SSE attempt that fails before any SSE welcome goes back to WebSocket (the broker was down, not blocked)', async () => {
  const ctx = sseSetup();
  ctx.client.connect();
  await failWebSocketTwice(ctx);
  ctx.sse.lastStream.end();
  await settle();
  await ctx.clock.advance(0);
  assert.equal(ctx.WebSocket.instances.length, 3);
  ctx.WebSocket.last.accept();
  await settle();
  assert.equal(ctx.client.state, 'connected');
  assert.equal(ctx.client.transport, 'websocket');
});

test('auto: a broker that does not serve SSE (404) is no reason to stop; the client goes back to WebSocket', async () => {
  const ctx = sseSetup();
  ctx.client.connect();
  ctx.sse.refuseNextStream(404);
  await failWebSocketTwice(ctx);
  assert.equal(ctx.sse.streams.length, 1);
  assert.notEqual(ctx.client.state, 'closed');
  await ctx.clock.advance(ctx.clock.pendingDelays[0] ?? 0);
  assert.equal(ctx.WebSocket.instances.length, 3);
});

test("transport 'sse': a 401 on the GET is retried once with a fresh token, then connect() rejects unauthorized", async () => {
  const ctx = sseSetup({ transport: 'sse' });
  const refused = assert.rejects(ctx.client.connect(), (e) => e.code === 'unauthorized');
  ctx.sse.refuseNextStream(401);
  await settle();
  ctx.sse.refuseNextStream(401);
  await ctx.clock.advance(0);
  await settle();
  await refused;
  assert.deepEqual(ctx.sse.streams.map((s) => s.headers.Authorization), ['Bearer token-1', 'Bearer token-2']);
});

test('ticket auth on SSE: an EventSource with ?ticket=, POSTs with the bearer; its error ends the session and it is not left to reconnect by itself', async () => {
  const ctx = sseSetup({ transport: 'sse', auth: 'ticket' }, { eventSource: true });
  const connecting = ctx.client.connect();
  await settle();
  const source = ctx.sse.EventSource.instances.at(-1);
  assert.equal(ctx.sse.streams.length, 0, 'an EventSource, not a fetch stream');
  assert.equal(source.url, 'http://broker.test/sse/chat?ticket=T-1');
  assert.deepEqual(ctx.sse.tickets.map((t) => t.authorization), ['Bearer token-1']);
  source.welcome({ session: 'S-9' });
  await connecting;
  ctx.client.send('bob', 1).catch(() => {});
  await settle();
  assert.equal(ctx.sse.posts[0].url, 'http://broker.test/sse/chat/S-9');
  assert.equal(ctx.sse.posts[0].headers.Authorization, 'Bearer token-1');

  source.fail();
  await settle();
  assert.equal(source.closed, true);
  assert.equal(ctx.client.state, 'reconnecting');
  await ctx.clock.advance(ctx.clock.pendingDelays[0]);
  await settle();
  assert.equal(ctx.sse.EventSource.instances.at(-1).url, 'http://broker.test/sse/chat?ticket=T-2', 'a new stream with a new ticket');
});

test('ticket auth without an EventSource streams with fetch, the ticket in the url', async () => {
  const ctx = sseSetup({ transport: 'sse', auth: 'ticket' });
  ctx.client.connect().catch(() => {});
  await settle();
  assert.equal(ctx.sse.lastStream.url, 'http://broker.test/sse/chat?ticket=T-1');
  ctx.client.close();
});

test('a POST refused as too_large rejects its requests with the server\'s code; the session stays', async () => {
  const ctx = sseSetup({ transport: 'sse' });
  await sseConnected(ctx);
  ctx.sse.postAnswers.push({ status: 400, body: { error: 'an envelope is over 65536 bytes', code: 'too_large' } });
  const refused = assert.rejects(ctx.client.send('bob', 'x'), (e) => e.code === 'too_large' && /65536/.test(e.message));
  await settle();
  await refused;
  assert.equal(ctx.client.state, 'connected');
  ctx.client.send('bob', 'y').catch(() => {});
  await settle();
  assert.equal(ctx.sse.posts.length, 2);
});

test('a POST answered 404 (the session ended) drops the stream and reconnects', async () => {
  const ctx = sseSetup({ transport: 'sse' });
  const stream = await sseConnected(ctx);
  ctx.sse.postAnswers.push({ status: 404, body: { error: 'not found', code: 'not_found' } });
  const lost = assert.rejects(ctx.client.send('bob', 'x'), (e) => e.code === 'disconnected');
  await settle();
  await lost;
  assert.equal(stream.closedByClient, true);
  assert.equal(ctx.client.state, 'reconnecting');
});

test('token refresh over SSE: the auth envelope is POSTed and later POSTs carry the new token', async () => {
  const ctx = sseSetup({ transport: 'sse' });
  const now = ctx.clock.now();
  const stream = await sseConnected(ctx, { expiresAt: now + 60_000, heartbeat: quiet });
  await ctx.clock.advance(54_000);
  await settle();
  const auth = ctx.sse.posts.at(-1);
  assert.deepEqual(auth.frames.map((f) => [f.type, f.data.token]), [['auth', 'token-2']]);
  stream.event({ type: 'refreshed', id: auth.frames[0].id, data: { expiresAt: now + 120_000 } });
  await settle();
  assert.equal(ctx.client.expiresAt, now + 120_000);
  ctx.client.send('bob', 1).catch(() => {});
  await settle();
  assert.equal(ctx.sse.posts.at(-1).headers.Authorization, 'Bearer token-2');
});

test('the event parser: CRLF and CR line ends, chunks split anywhere, multi-line data joined with LF, comments ignored', () => {
  const text = ': hi\r\ndata: {"a":\r\ndata: 1}\r\n\r\nid: 3\rdata:{"b":2}\r\r\ndata\n\n';
  for (let size = 1; size <= text.length; size++) {
    const parser = new EventStreamParser();
    const events = [];
    for (let i = 0; i < text.length; i += size) events.push(...parser.push(text.slice(i, i + size)));
    assert.deepEqual(events, ['{"a":\n1}', '{"b":2}', ''], `chunks of ${size}`);
  }
});

test('the SSE url is the WebSocket url with its last /ws/ segment as /sse/', () => {
  assert.equal(sseUrlFor('wss://h/ws/chat'), 'https://h/sse/chat');
  assert.equal(sseUrlFor('ws://h:5080/broker/ws/notifications?x=1'), 'http://h:5080/broker/sse/notifications?x=1');
  assert.throws(() => sseUrlFor('ws://h/socket'), /sseUrl/);
});
