// The JS client against a real broker (run by Broker.Tests/Clients/JsClientTests.cs):
//   node --experimental-websocket clients/js/test-integration/live.mjs http://127.0.0.1:5080/
// The host must run in the Development environment (tokens come from POST /auth/dev-token).
// Exits 0 when every step passed, 1 on the first failure, 2 when it ran out of time.
import { BrokerClient } from '../src/broker-client.js';

const STEP_TIMEOUT = 10_000;
const TOTAL_TIMEOUT = 60_000;

const base = new URL(process.argv[2] ?? 'http://127.0.0.1:5080/');
const chatUrl = new URL('/ws/chat', base).toString().replace(/^http/, 'ws');
const clients = [];

// The whole run is bounded, whatever hangs.
const deadline = setTimeout(() => {
  console.error(`FAIL: the live test did not finish within ${TOTAL_TIMEOUT / 1000} s`);
  process.exit(2);
}, TOTAL_TIMEOUT);

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function devToken(user) {
  const response = await fetch(new URL(`/auth/dev-token?user=${encodeURIComponent(user)}`, base), { method: 'POST' });
  check(response.ok, `POST /auth/dev-token?user=${user}: HTTP ${response.status} (is the host in Development?)`);
  const body = await response.json();
  check(typeof body.token === 'string', 'dev-token answered without a token');
  return body.token;
}

function newClient(user, options = {}) {
  const client = new BrokerClient({ url: chatUrl, token: () => devToken(user), requestTimeout: STEP_TIMEOUT, ...options });
  clients.push(client);
  return client;
}

/** Resolves with the first `event` payload matching `predicate`, or fails after STEP_TIMEOUT. */
function nextEvent(client, event, predicate = () => true) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no matching '${event}' event within ${STEP_TIMEOUT} ms`));
    }, STEP_TIMEOUT);
    const off = client.on(event, (payload) => {
      if (!predicate(payload)) return;
      clearTimeout(timer);
      off();
      resolve(payload);
    });
  });
}

async function expectRejection(promise, code, what) {
  try {
    await promise;
  } catch (error) {
    check(error?.code === code, `${what}: expected ${code}, got ${error?.code}: ${error?.message}`);
    return error;
  }
  throw new Error(`${what}: expected a rejection with ${code}`);
}

const steps = [];
const step = (name, fn) => steps.push({ name, fn });
const shared = {};

step('connect with first-message JWT', async () => {
  shared.alice = newClient('alice');
  const welcome = await shared.alice.connect();
  check(welcome.user === 'alice', `welcome.user is ${welcome.user}`);
  check(welcome.heartbeat?.interval > 0, 'welcome has no heartbeat interval');
  check(shared.alice.state === 'connected', `state is ${shared.alice.state}`);
});

step('connect with a ticket', async () => {
  shared.bob = newClient('bob', { auth: 'ticket' });
  const welcome = await shared.bob.connect();
  check(welcome.user === 'bob', `welcome.user is ${welcome.user}`);
});

step('join: joined data and presence to the other member', async () => {
  shared.room = `live-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
  const joined = await shared.alice.join(shared.room);
  check(joined.room === shared.room, `joined.room is ${joined.room}`);
  check(typeof joined.epoch === 'string' && joined.epoch.length > 0, 'joined has no epoch');
  check(joined.members.includes('alice'), `members: ${joined.members}`);
  shared.epoch = joined.epoch;

  const presence = nextEvent(shared.alice, 'presence', (p) => p.room === shared.room && p.user === 'bob' && p.event === 'join');
  await shared.bob.join(shared.room);
  await presence;
  check(shared.alice.rooms.get(shared.room).members.has('bob'), 'alice does not list bob as a member');
});

step('publish: ack with the offset, delivered to both members in order', async () => {
  const atBob = nextEvent(shared.bob, 'message', (m) => m.room === shared.room && m.payload?.text === 'hello');
  const atAlice = nextEvent(shared.alice, 'message', (m) => m.room === shared.room && m.payload?.text === 'hello');
  const { offset } = await shared.alice.publish(shared.room, { text: 'hello' });
  check(Number.isInteger(offset) && offset >= 1, `ack offset is ${offset}`);
  const [bobSaw, aliceSaw] = await Promise.all([atBob, atAlice]);
  check(bobSaw.from === 'alice', `message.from is ${bobSaw.from}`);
  check(bobSaw.offset === offset && aliceSaw.offset === offset, 'message offsets differ from the ack');
  check(bobSaw.epoch === shared.epoch, 'message epoch differs from joined');

  const second = nextEvent(shared.alice, 'message', (m) => m.room === shared.room && m.payload?.text === 'second');
  const ack = await shared.bob.publish(shared.room, { text: 'second' }, { excludeSelf: true });
  check(ack.offset === offset + 1, `second offset is ${ack.offset}, expected ${offset + 1}`);
  check((await second).from === 'bob', 'second message not from bob');
  check(shared.alice.rooms.get(shared.room).offset === ack.offset, 'alice did not track the last offset');
});

step('send: a direct message reaches the user', async () => {
  const direct = nextEvent(shared.alice, 'direct', (d) => d.from === 'bob');
  const { delivered } = await shared.bob.send('alice', { secret: 42 });
  check(delivered >= 1, `delivered is ${delivered}`);
  check((await direct).payload?.secret === 42, 'direct payload differs');
});

step('errors with an id reject the request: publish to a room not joined', async () => {
  await expectRejection(shared.alice.publish('never-joined-room', 1), 'forbidden', 'publish to a room not joined');
});

step('ping round trip', async () => {
  const rtt = await shared.bob.ping();
  check(rtt >= 0, `rtt is ${rtt}`);
});

step('join with since replays the missed messages before joined and reports recovered', async () => {
  const carol = newClient('carol');
  await carol.connect();
  const replayed = [];
  carol.on('message', (m) => { if (m.room === shared.room) replayed.push(m.offset); });
  const recovered = nextEvent(carol, 'recovered', (r) => r.room === shared.room);
  const joined = await carol.join(shared.room, { since: { epoch: shared.epoch, offset: 0 } });
  const report = await recovered;
  check(joined.recovered === true && report.recovered === true, `recovered: ${joined.recovered} / ${report.recovered}`);
  check(report.missed === joined.offset && replayed.length === joined.offset, `missed ${report.missed}, replayed ${replayed}, offset ${joined.offset}`);
  check(replayed.every((o, i) => o === i + 1), `replayed out of order: ${replayed}`);
  carol.close();
});

step('leave: left, then publishing is forbidden', async () => {
  const left = await shared.bob.leave(shared.room);
  check(left.room === shared.room, `left.room is ${left.room}`);
  check(!shared.bob.rooms.has(shared.room), 'bob still tracks the room');
  await expectRejection(shared.bob.publish(shared.room, 1), 'forbidden', 'publish after leave');
});

step('a refused JWT rejects connect() with unauthorized and closes', async () => {
  const mallory = newClient('mallory', { token: 'not-a-jwt' });
  await expectRejection(mallory.connect(), 'unauthorized', 'connect with a bad JWT');
  check(mallory.state === 'closed', `state is ${mallory.state}`);
});

step('a refused JWT at the ticket endpoint rejects connect() with unauthorized', async () => {
  const mallory = newClient('mallory', { token: 'not-a-jwt', auth: 'ticket' });
  await expectRejection(mallory.connect(), 'unauthorized', 'ticket with a bad JWT');
});

step('close(): state closed, requests reject', async () => {
  shared.alice.close();
  check(shared.alice.state === 'closed', `state is ${shared.alice.state}`);
  await expectRejection(shared.alice.publish(shared.room, 1), 'not_connected', 'publish after close');
});

async function main() {
  if (typeof globalThis.WebSocket !== 'function') {
    console.error('FAIL: no global WebSocket; run node with --experimental-websocket (Node 20) or use Node 22+');
    return 1;
  }
  console.log(`live test against ${base} (${chatUrl})`);
  for (const { name, fn } of steps) {
    try {
      await fn();
      console.log(`ok - ${name}`);
    } catch (error) {
      console.error(`not ok - ${name}\n  ${error?.stack ?? error}`);
      return 1;
    }
  }
  console.log(`all ${steps.length} steps passed`);
  return 0;
}

const code = await main();
for (const client of clients) client.close();
clearTimeout(deadline);
process.exitCode = code;
