// The JS client through a node killed under it (run by Broker.Tests/Clients/JsClientNodeKillTests.cs):
//   node clients/js/test-integration/node-kill.mjs <ws url through the proxy> <survivor base> <safe room> <doomed room>
// The test connects the client through a proxy to the node that will die, in a room that lives
// elsewhere (safe) and one that lives on that node (doomed). The script prints READY once it has
// the first 5 messages, and the driver kills the node; once the script has published 10 more it
// prints PUBLISHED, and the driver points the proxy at a survivor. The
// client must reconnect, get the 10 messages published meanwhile once and in order (recovered),
// and learn that the doomed room came back in a new epoch (not recovered).
// Exits 0 when every check passed, 1 on the first failure, 2 when it ran out of time.
import { BrokerClient } from '../src/broker-client.js';

const TOTAL_TIMEOUT = 100_000;
const [url, survivorBase, safeRoom, doomedRoom] = process.argv.slice(2);
const survivor = new URL(survivorBase);

const deadline = setTimeout(() => {
  console.error(`FAIL: the node-kill test did not finish within ${TOTAL_TIMEOUT / 1000} s`);
  process.exit(2);
}, TOTAL_TIMEOUT);

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function devToken(user, scope) {
  const query = `user=${encodeURIComponent(user)}` + (scope ? `&scope=${encodeURIComponent(scope)}` : '');
  const response = await fetch(new URL(`/auth/dev-token?${query}`, survivor), { method: 'POST' });
  check(response.ok, `dev-token: HTTP ${response.status}`);
  return (await response.json()).token;
}

async function publish(service, room, payload) {
  const response = await fetch(new URL('/api/publish', survivor), {
    method: 'POST',
    headers: { authorization: `Bearer ${service}`, 'content-type': 'application/json' },
    body: JSON.stringify({ room, payload }),
  });
  check(response.status === 202, `POST /api/publish: HTTP ${response.status}`);
  return response.json();
}

/** Resolves once `condition()` holds, checked on every event of the client; fails after `ms`. */
function until(client, condition, what, ms = 60_000) {
  return new Promise((resolve, reject) => {
    const offs = [];
    const done = (error) => {
      clearTimeout(timer);
      offs.forEach((off) => off());
      if (error) reject(error); else resolve();
    };
    const timer = setTimeout(() => done(new Error(`not within ${ms} ms: ${what}`)), ms);
    const test = () => { if (condition()) done(); };
    for (const event of ['message', 'recovered', 'resynced', 'state']) offs.push(client.on(event, test));
    test();
  });
}

const token = await devToken('js-traveller');
const service = await devToken('js-placer', 'broker:publish');
const client = new BrokerClient({
  url,
  token: () => token, // the dying node cannot mint tokens: one from the survivor, valid everywhere
  requestTimeout: 10_000,
  reconnect: { initialDelay: 50, maxDelay: 500 },
});
const received = [];
const recovered = new Map();
const closes = [];
client.on('message', (m) => received.push(m));
client.on('recovered', (r) => recovered.set(r.room, r));
client.on('closed', (c) => closes.push(c));

try {
  await client.connect();
  const safeJoined = await client.join(safeRoom);
  await client.join(doomedRoom);
  for (let n = 1; n <= 5; n++) await publish(service, safeRoom, n);
  const safe = () => received.filter((m) => m.room === safeRoom);
  await until(client, () => safe().length === 5, 'the first 5 messages');
  console.log('READY');

  await until(client, () => closes.length > 0, 'the connection drop when the node dies');
  check(closes[0].willReconnect, `the client gave up after close ${closes[0].code}`);
  for (let n = 6; n <= 15; n++) {
    const ack = await publish(service, safeRoom, n);
    check(ack.offset === n && ack.epoch === safeJoined.epoch, `publish ${n} got ${JSON.stringify(ack)}`);
  }
  console.log('PUBLISHED'); // only now may the client get back in: all 10 are missed

  await until(client, () => recovered.has(safeRoom), 'the safe room rejoined', 80_000);
  const safeRecovery = recovered.get(safeRoom);
  check(safeRecovery.recovered && !safeRecovery.epochChanged && safeRecovery.missed === 10,
    `safe room recovery: ${JSON.stringify(safeRecovery)}`);
  await until(client, () => recovered.has(doomedRoom), 'the doomed room rejoined', 80_000);
  const doomed = recovered.get(doomedRoom);
  check(!doomed.recovered && doomed.epochChanged, `doomed room recovery: ${JSON.stringify(doomed)}`);

  await publish(service, safeRoom, 16);
  await until(client, () => safe().length >= 16, '16 messages in the safe room');
  const offsets = safe().map((m) => m.offset).join(',');
  check(offsets === Array.from({ length: 16 }, (_, i) => i + 1).join(','), `offsets ${offsets}`);
  check(safe().every((m) => m.epoch === safeJoined.epoch && m.payload === m.offset), 'payloads or epochs differ');
  console.log(`PASS: reconnected after close ${closes[0].code}, 10 missed messages recovered once in order, the doomed room reborn in a new epoch`);
  await client.close();
  clearTimeout(deadline);
  process.exit(0);
} catch (error) {
  console.error(`FAIL: ${error.message}`);
  process.exit(1);
}
