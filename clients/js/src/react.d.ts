// Types for @broker/client/react.
import type {
  BrokerClient,
  BrokerClientOptions,
  BrokerError,
  ConnectionState,
  MessageData,
  PublishAck,
  PublishOptions,
  RecoveredEvent,
  ResyncedEvent,
} from './broker-client.js';

export interface ClientSnapshot {
  state: ConnectionState;
  user: string | null;
  /** The last error event, or why the client stopped; cleared by the next welcome. */
  error: BrokerError | null;
}

export interface RoomSnapshot {
  room: string | null;
  /** The last `history` messages, oldest first. */
  messages: readonly MessageData[];
  members: readonly string[];
  /** Joined on the current connection. */
  joined: boolean;
  error: BrokerError | null;
  /** The last recovery report after a rejoin; recovered:false means reload what you show. */
  recovery: RecoveredEvent | null;
  /** The last time the room lost its history while joined: messages may be missing before it, reload what you show. */
  resync: ResyncedEvent | null;
}

export interface ExternalStore<S> {
  subscribe(listener: () => void): () => void;
  getSnapshot(): S;
}

export interface RoomStore extends ExternalStore<RoomSnapshot> {
  publish(payload: unknown, options?: PublishOptions): Promise<PublishAck>;
}

/** React-free: the connection state for useSyncExternalStore. */
export declare function createClientStore(client: BrokerClient): ExternalStore<ClientSnapshot>;

/** React-free: keeps `room` joined while subscribed and collects its messages and members. */
export declare function createRoomStore(
  client: BrokerClient,
  room: string,
  options?: { history?: number; leaveOnStop?: boolean },
): RoomStore;

/** Creates (from options; connects on mount, closes on unmount) or observes (a client) a connection. */
export declare function useBroker(optionsOrClient: BrokerClientOptions | BrokerClient): ClientSnapshot & { client: BrokerClient };

export interface UseRoomResult {
  messages: readonly MessageData[];
  members: readonly string[];
  joined: boolean;
  error: BrokerError | null;
  recovery: RecoveredEvent | null;
  /** The last resync of the room (see ResyncedEvent); reload what you show when it changes. */
  resync: ResyncedEvent | null;
  publish(payload: unknown, options?: PublishOptions): Promise<PublishAck>;
}

/** Keeps `room` joined while mounted; `client`/`room` may be null until ready. */
export declare function useRoom(
  client: BrokerClient | null | undefined,
  room: string | null | undefined,
  options?: { history?: number },
): UseRoomResult;
