// A chat room on @broker/client/react: one connection for the app, one hook per room.
// The broker serves /ws/chat and /auth/ticket; getToken() is your app's login (any JWT the
// broker accepts; in Development, POST /auth/dev-token?user=… mints one).
import { useRef, useState } from 'react';
import { createIdempotencyKey } from '@broker/client';
import { useBroker, useRoom } from '@broker/client/react';

export function ChatApp({ getToken }) {
  // Options are read once; the client connects on mount and closes on unmount.
  const { client, state, user, error } = useBroker({ url: '/ws/chat', token: getToken, auth: 'ticket' });

  return (
    <main>
      <header>
        {user ?? '…'} · <ConnectionBadge state={state} />
        {error && state === 'closed' && <p role="alert">Disconnected: {error.message}</p>}
      </header>
      <ChatRoom client={client} room="lobby" />
    </main>
  );
}

function ConnectionBadge({ state }) {
  const label = { idle: 'offline', connecting: 'connecting…', connected: 'online', reconnecting: 'reconnecting…', closed: 'offline' }[state];
  return <span data-state={state}>{label}</span>;
}

export function ChatRoom({ client, room }) {
  const { messages, members, joined, error, recovery, publish } = useRoom(client, room, { history: 200 });
  const [draft, setDraft] = useState('');
  const [sendError, setSendError] = useState(null);
  // One idempotency key per draft: sending it again after a failure cannot post it twice
  // (an edited draft is another message, with a new key).
  const draftKey = useRef(null);

  async function onSubmit(event) {
    event.preventDefault();
    const text = draft.trim();
    if (!text) return;
    draftKey.current ??= createIdempotencyKey();
    try {
      // Resolves with the room's offset once accepted. A 'disconnected' rejection means the
      // connection dropped before the ack: the message may or may not have been published, and
      // pressing Send again (same key) publishes it at most once.
      await publish({ text }, { idempotencyKey: draftKey.current });
      draftKey.current = null;
      setDraft('');
      setSendError(null);
    } catch (e) {
      setSendError(e);
    }
  }

  return (
    <section aria-label={`room ${room}`}>
      <h2>#{room} {joined ? '' : '(joining…)'}</h2>
      {recovery && !recovery.recovered && <p role="status">Some messages could not be recovered after the reconnect.</p>}
      {error && <p role="alert">{error.code}: {error.message}</p>}
      <aside>Online: {members.join(', ')}</aside>
      <ol>
        {messages.map((m) => (
          <li key={`${m.epoch}:${m.offset}`}>
            <b>{m.from}</b>: {typeof m.payload?.text === 'string' ? m.payload.text : JSON.stringify(m.payload)}
          </li>
        ))}
      </ol>
      <form onSubmit={onSubmit}>
        <input value={draft} onChange={(e) => { draftKey.current = null; setDraft(e.target.value); }} disabled={!joined} placeholder="Say something" />
        <button disabled={!joined}>Send</button>
        {sendError && <span role="alert">{sendError.code}</span>}
      </form>
    </section>
  );
}
