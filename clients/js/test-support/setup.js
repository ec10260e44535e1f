import { test as nodeTest } from 'node:test';
import { BrokerClient } from '../src/broker-client.js';
import { FakeClock, flush } from './fake-clock.js';
import { createFakeWebSocket } from './fake-websocket.js';

export { flush };

/**
 * node:test's test() with a timeout: nothing here waits on real time, so a test still running
 * after 5 s is stuck on a promise that never settles, and should fail rather than hang CI.
 */
export function test(name, fn) {
  return nodeTest(name, { timeout: 5000 }, fn);
}

/**
 * A client wired to a fake socket class and a virtual clock. `tokens` counts token-provider
 * calls; the provider returns `token-1`, `token-2`, … so tests can tell fresh tokens apart.
 * WebSocket only unless a test passes `transport` (the SSE fallback has its own tests, which
 * give it a fake fetch; here a socket that never opens must stay a WebSocket failure).
 */
export function setup(options = {}) {
  const clock = new FakeClock();
  const WebSocket = createFakeWebSocket();
  const tokens = { calls: 0 };
  const client = new BrokerClient({
    url: 'ws://broker.test/ws/chat',
    token: async () => `token-${++tokens.calls}`,
    WebSocket,
    transport: 'websocket',
    requestTimeout: 10000,
    ...clock.options,
    ...options,
  });
  const events = recordEvents(client);
  return { client, clock, WebSocket, tokens, events };
}

/** Records every event the client emits, in order, as [name, payload]. */
export function recordEvents(client) {
  const log = [];
  for (const name of ['state', 'welcome', 'message', 'direct', 'presence', 'occupancy', 'error', 'recovered', 'resynced', 'closed', 'refreshed']) {
    client.on(name, (payload) => log.push([name, payload]));
  }
  return {
    log,
    of: (name) => log.filter(([n]) => n === name).map(([, p]) => p),
    states: () => log.filter(([n]) => n === 'state').map(([, p]) => p.state),
  };
}

/** Connects and completes the handshake on the newest socket; returns that socket. */
export async function connected(ctx, welcome = {}) {
  const welcomed = ctx.client.connect();
  await flush(); // the token provider is async
  const socket = ctx.WebSocket.last;
  socket.accept(welcome);
  await welcomed;
  return socket;
}

/** Joins a room on an open socket by answering the join frame. */
export async function joinRoom(ctx, socket, room, joined = {}) {
  const joining = ctx.client.join(room);
  const frame = socket.lastSent('join');
  socket.receive({ type: 'joined', id: frame.id, data: { room, epoch: 'e1', offset: 0, members: ['alice'], recovered: false, ...joined } });
  return joining;
}

/** A room message frame. */
export function message(room, offset, epoch = 'e1', payload = { n: offset }) {
  return { type: 'message', data: { room, offset, epoch, from: 'bob', payload } };
}
