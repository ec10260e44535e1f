/**
 * React bindings: useBroker and useRoom over the React-free stores of stores.js.
 * The only module that imports React (an optional peer dependency).
 * @module
 */
import { useEffect, useMemo, useState, useSyncExternalStore } from 'react';
import { BrokerClient, BrokerError } from './broker-client.js';
import { createClientStore, createRoomStore } from './stores.js';

export { createClientStore, createRoomStore };

const isClient = (value) => value != null && typeof value.connect === 'function' && typeof value.on === 'function';

/**
 * A connection for a component tree. Given options, it creates a client once (later option
 * changes are ignored), connects on mount and closes on unmount. Given a client, it only
 * observes it: connecting and closing stay with the caller.
 * @returns {{ client: BrokerClient, state: string, user: string | null, error: BrokerError | null }}
 */
export function useBroker(optionsOrClient) {
  const given = isClient(optionsOrClient) ? optionsOrClient : null;
  // The initializer has no side effects, so StrictMode's double call only builds a spare object.
  const [owned] = useState(() => (given ? null : new BrokerClient(optionsOrClient)));
  const client = given ?? owned;
  const store = useMemo(() => createClientStore(client), [client]);
  const snapshot = useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);

  useEffect(() => {
    if (!owned) return undefined;
    owned.connect().catch(() => {}); // a final failure reaches the store through 'closed'
    return () => owned.close();
  }, [owned]);

  return { client, state: snapshot.state, user: snapshot.user, error: snapshot.error };
}

const IDLE_ROOM = Object.freeze({ room: null, messages: Object.freeze([]), members: Object.freeze([]), joined: false, error: null, recovery: null, resync: null });
const IDLE_STORE = Object.freeze({
  subscribe: () => () => {},
  getSnapshot: () => IDLE_ROOM,
  publish: () => Promise.reject(new BrokerError('not_connected', 'useRoom has no client or room yet')),
});

/**
 * Keeps `room` joined while the component is mounted and returns its live state.
 * `client` or `room` may be null (nothing happens until both are set).
 * `recovery` is the last rejoin report, `resync` the last time the room lost its history while
 * joined; after either with recovered:false, messages may be missing: reload what you show.
 * @returns {{ messages: object[], members: string[], joined: boolean, error: BrokerError | null, recovery: object | null, resync: object | null, publish: Function }}
 */
export function useRoom(client, room, { history = 200 } = {}) {
  const store = useMemo(() => (client && room ? createRoomStore(client, room, { history }) : IDLE_STORE), [client, room, history]);
  const snapshot = useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
  return {
    messages: snapshot.messages,
    members: snapshot.members,
    joined: snapshot.joined,
    error: snapshot.error,
    recovery: snapshot.recovery,
    resync: snapshot.resync,
    publish: store.publish,
  };
}
