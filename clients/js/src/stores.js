/**
 * React-free stores over a BrokerClient, in the shape `useSyncExternalStore` wants:
 * `subscribe(listener) → unsubscribe` and `getSnapshot()` returning an immutable value that
 * only changes identity when something changed. The React hooks are thin wrappers; the
 * logic lives here so it can be tested in Node without React.
 * @module
 */
import { BrokerError } from './errors.js';
import { isValidRoom } from './broker-client.js';

const NONE = Object.freeze([]);
const noop = () => {};

/** A tiny observable value: replace() swaps the frozen snapshot and notifies. */
function observable(initial, { onFirst, onLast }) {
  let snapshot = Object.freeze(initial);
  const listeners = new Set();
  return {
    get: () => snapshot,
    replace(patch) {
      snapshot = Object.freeze({ ...snapshot, ...patch });
      for (const listener of [...listeners]) listener();
    },
    subscribe(listener) {
      listeners.add(listener);
      if (listeners.size === 1) onFirst();
      return () => {
        if (!listeners.delete(listener)) return;
        if (listeners.size === 0) onLast();
      };
    },
  };
}

/**
 * The connection's state for a UI: `{ state, user, error }`. `error` is the last error event,
 * or the reason the client stopped for good (cleared by the next welcome).
 * @param {import('./broker-client.js').BrokerClient} client
 */
export function createClientStore(client) {
  let offs = [];
  const value = observable({ state: client.state, user: client.user, error: null }, {
    onFirst() {
      offs = [
        client.on('state', ({ state }) => value.replace({ state, user: client.user })),
        client.on('welcome', (welcome) => value.replace({ user: welcome.user, error: null })),
        client.on('error', (error) => value.replace({ error })),
        client.on('closed', (closed) => {
          if (!closed.willReconnect && closed.error && closed.error.code !== 'closed') value.replace({ error: closed.error });
        }),
      ];
      // It may have moved on while nobody listened.
      const { state, user } = value.get();
      if (state !== client.state || user !== client.user) value.replace({ state: client.state, user: client.user });
    },
    onLast() {
      for (const off of offs.splice(0)) off();
    },
  });
  return { subscribe: value.subscribe, getSnapshot: value.get };
}

/**
 * One room for a UI: `{ room, messages, members, joined, error, recovery, resync }`, plus publish().
 * While subscribed it keeps the room joined: it joins as soon as the client is connecting or
 * connected (join requests wait for the connection), lets the client rejoin after reconnects,
 * and joins again if a join was lost to a drop. When the last subscriber leaves, it leaves the
 * room (`leaveOnStop: false` keeps it). `messages` keeps the last `history` messages;
 * `recovery` is the last 'recovered' report (recovered:false means: reload what you show);
 * `resync` is the last 'resynced' report: the room lost its history while joined, messages may
 * be missing before that point, so reload what you show (`messages` is kept as it was).
 * Use one store per room and client: a store that stops leaves the room for the client.
 * @param {import('./broker-client.js').BrokerClient} client
 * @param {string} room
 * @param {{ history?: number, leaveOnStop?: boolean }} [options]
 */
export function createRoomStore(client, room, { history = 200, leaveOnStop = true } = {}) {
  const invalid = isValidRoom(room) ? null : new BrokerError('bad_request', `invalid room name ${JSON.stringify(room)}`);
  let active = false;
  let joining = false;
  let offs = [];
  const members = () => [...(client.rooms.get(room)?.members ?? NONE)];
  const mine = (event) => event?.room === room;

  const value = observable({ room, messages: NONE, members: NONE, joined: false, error: invalid, recovery: null, resync: null }, {
    onFirst: start,
    onLast: stop,
  });

  function start() {
    active = true;
    if (invalid) return;
    offs = [
      client.on('message', (message) => {
        if (!mine(message)) return;
        const messages = value.get().messages.concat([message]);
        value.replace({ messages: messages.length > history ? messages.slice(messages.length - history) : messages });
      }),
      client.on('presence', (presence) => { if (mine(presence)) value.replace({ members: members() }); }),
      client.on('recovered', (recovery) => { if (mine(recovery)) value.replace({ joined: true, members: members(), recovery, error: null }); }),
      client.on('resynced', (resync) => { if (mine(resync)) value.replace({ members: members(), resync }); }),
      client.on('error', (error) => { if (mine(error)) value.replace({ error, joined: false }); }),
      client.on('state', ({ state }) => {
        if (state !== 'connected' && value.get().joined) value.replace({ joined: false });
        ensureJoined();
      }),
    ];
    const entry = client.rooms.get(room);
    if (entry?.joined) value.replace({ joined: true, members: members() });
    ensureJoined();
  }

  function stop() {
    active = false;
    for (const off of offs.splice(0)) off();
    if (leaveOnStop && !invalid && client.rooms.has(room)) client.leave(room).catch(noop);
    value.replace({ joined: false });
  }

  function ensureJoined() {
    if (!active || joining || client.state === 'idle' || client.state === 'closed') return;
    // A room the client tracks is joined, being joined, or rejoined by the client itself.
    if (client.rooms.has(room)) return;
    joining = true;
    client.join(room).then(
      (joined) => {
        joining = false;
        if (!active) {
          if (leaveOnStop) client.leave(room).catch(noop); // stopped while the join was in flight
          return;
        }
        value.replace({ joined: true, members: members().length ? members() : joined.members ?? NONE, error: null });
      },
      (error) => {
        joining = false;
        if (!active) return;
        value.replace({ error });
        // A join lost to a drop is retried on the next state change; anything else is shown.
      },
    );
  }

  return {
    subscribe: value.subscribe,
    getSnapshot: value.get,
    /** Publishes to this room; see BrokerClient.publish. */
    publish: (payload, options) => (invalid ? Promise.reject(invalid) : client.publish(room, payload, options)),
  };
}
