// The chat demo: a thin page over the broker's JS client (served by this host at /broker/).
// Every user-provided string reaches the DOM through textContent, never as markup.
import { BrokerClient } from '/broker/broker-client.js';

const DEFAULT_ROOM = 'lobby';
const ROOM_NAME = /^[A-Za-z0-9_.:-]{1,128}$/;
const NOTICE_MS = 6000;
const STATE_LABELS = {
  idle: 'Offline',
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
  closed: 'Disconnected',
};

const $ = (testId) => document.querySelector(`[data-testid="${testId}"]`);

/** Creates an element with a class and optional text (always as text). */
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A stable, pleasant colour per user name, for avatars. */
function colourOf(name) {
  let hash = 0;
  for (const ch of name) hash = (hash * 31 + ch.codePointAt(0)) | 0;
  return `hsl(${Math.abs(hash) % 360} 55% 50%)`;
}

function avatar(name) {
  const node = el('span', 'avatar', [...name][0] ?? '?');
  node.style.background = colourOf(name);
  node.setAttribute('aria-hidden', 'true');
  return node;
}

function timeOf(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/** The text a payload shows: its `text` when it has one, else its JSON. */
function textOf(payload) {
  if (typeof payload === 'string') return payload;
  if (payload && typeof payload.text === 'string') return payload.text;
  return JSON.stringify(payload);
}

// ---- state ----

/** @type {BrokerClient | null} */
let client = null;
let me = '';
let active = DEFAULT_ROOM;
/** room → { messages: Array, seen: Set<string>, members: Set<string>, unread: number, offset: number } */
const rooms = new Map();
let noticeTimer = 0;
let wasConnected = false;
let badgeTimer = 0;

function roomState(room) {
  let state = rooms.get(room);
  if (!state) {
    state = { messages: [], seen: new Set(), members: new Set(), unread: 0, offset: 0, epoch: '' };
    rooms.set(room, state);
  }
  return state;
}

// ---- login ----

async function devToken(name) {
  const response = await fetch(`/auth/dev-token?user=${encodeURIComponent(name)}`, { method: 'POST' });
  if (response.status === 404) {
    const error = new Error('This broker is not running in Development, so it does not hand out tokens. ' +
      'Run it with "dotnet run --project Broker.Host" (Development), or paste a JWT under "Use a token instead".');
    error.noDevTokens = true;
    throw error;
  }
  if (!response.ok) throw new Error(`Could not get a token (HTTP ${response.status}).`);
  return (await response.json()).token;
}

function showLoginError(message) {
  const box = $('login-error');
  box.textContent = message;
  box.hidden = !message;
}

async function signIn(event) {
  event.preventDefault();
  showLoginError('');
  const name = $('name-input').value.trim();
  const pasted = $('token-input').value.trim();
  if (!pasted && !name) {
    showLoginError('Pick a name first.');
    return;
  }
  const button = $('connect-button');
  button.disabled = true;
  try {
    let token = async () => pasted;
    if (!pasted) {
      // Fetched here first so a missing dev-token endpoint is explained on this form, not inside
      // the client; later (re)connects fetch a fresh one, so a long session never outlives it.
      let first = await devToken(name);
      token = async () => {
        const next = first ?? await devToken(name);
        first = null;
        return next;
      };
    }
    await start(token);
    localStorage.setItem('broker-demo-name', name);
  } catch (error) {
    if (error.noDevTokens) $('token-box').open = true;
    showLoginError(error.message || String(error));
    stop();
  } finally {
    button.disabled = false;
  }
}

// ---- the client ----

async function start(token) {
  client = new BrokerClient({ url: '/ws/chat', auth: 'ticket', ticketUrl: '/auth/ticket', token });
  client.on('state', ({ state }) => showState(state));
  client.on('message', onMessage);
  client.on('direct', onDirect);
  client.on('presence', onPresence);
  client.on('recovered', onRecovered);
  client.on('closed', onClosed);
  client.on('error', onError);
  await client.connect();
  me = client.user;
  $('current-user').textContent = me;
  $('current-user').hidden = false;
  $('sign-out').hidden = false;
  $('login').hidden = true;
  $('chat').hidden = false;
  await joinRoom(DEFAULT_ROOM);
  $('composer-input').focus();
}

function stop() {
  client?.close();
  client = null;
  rooms.clear();
  showState('idle');
}

function showState(state) {
  // A fresh attempt after a drop is still "reconnecting" to the reader, whatever the client calls it.
  if (state === 'connected') wasConnected = true;
  else if (state === 'idle') wasConnected = false;
  else if (state === 'connecting' && wasConnected) state = 'reconnecting';
  const badge = $('state-badge');
  badge.dataset.state = state;
  badge.querySelector('.badge-text').textContent = STATE_LABELS[state] ?? state;
  delete badge.dataset.flash;
  clearTimeout(badgeTimer);
  const online = state === 'connected';
  $('send-button').disabled = !online;
  // Offline, the member list is what it was, not what it is: shown dimmed.
  $('chat').dataset.offline = String(!online);
  // A connection problem is over once connected again.
  if (online && $('notice').dataset.source === 'connection') $('notice').hidden = true;
}

async function joinRoom(room) {
  const joined = await client.join(room);
  const state = roomState(room);
  state.members = new Set(joined.members);
  state.epoch = joined.epoch;
  state.offset = joined.offset;
  select(room);
}

async function leaveRoom(room) {
  await client.leave(room);
  rooms.delete(room);
  select(rooms.keys().next().value ?? DEFAULT_ROOM);
}

function select(room) {
  active = room;
  roomState(room).unread = 0;
  renderRooms();
  renderMembers();
  renderMessages();
}

// ---- events ----

function onMessage({ room, offset, epoch, from, payload }) {
  const state = rooms.get(room);
  if (!state) return;
  // The client never repeats a message; the key guards the page against any replay anyway.
  const key = `${epoch}:${offset}`;
  if (state.seen.has(key)) return;
  state.seen.add(key);
  state.offset = offset;
  state.epoch = epoch;
  const entry = { kind: 'message', from, offset, text: textOf(payload), at: sentAt(payload) };
  state.messages.push(entry);
  if (room === active) appendMessage(entry);
  else {
    state.unread++;
    renderRooms();
  }
}

function onDirect({ from, payload }) {
  addDirect({ kind: 'direct', from, text: textOf(payload), at: sentAt(payload) });
}

/** Direct messages have no room: they show in whichever room is open. */
function addDirect(entry) {
  const state = rooms.get(active);
  if (!state) return;
  state.messages.push(entry);
  appendMessage(entry);
}

function onPresence({ room, event, user }) {
  const state = rooms.get(room);
  if (!state) return;
  if (event === 'join') state.members.add(user);
  else state.members.delete(user);
  const entry = { kind: 'presence', text: `${user} ${event === 'join' ? 'joined' : 'left'}` };
  state.messages.push(entry);
  if (room === active) {
    renderMembers();
    appendMessage(entry);
  }
}

function onRecovered({ room, recovered, epochChanged, missed }) {
  const state = rooms.get(room);
  if (!state) return;
  // The rejoin's `joined` brought a fresh member list (presence sent while away was lost).
  const current = client?.rooms.get(room)?.members;
  if (current) state.members = new Set(current);
  const n = Array.isArray(missed) ? missed.length : Number(missed) || 0;
  let text;
  let warn = false;
  if (epochChanged) {
    text = 'The room restarted on the server: earlier history is gone.';
    warn = true;
  } else if (!recovered) {
    text = `Reconnected: ${n} recovered, but some messages in #${room} could not be recovered.`;
    warn = true;
  } else {
    text = `Reconnected: recovered ${n} missed message${n === 1 ? '' : 's'}.`;
  }
  // The replayed messages arrived just before this event: mark them, and put the note above them.
  let at = state.messages.length;
  for (let left = n; left > 0 && at > 0; at--) {
    const entry = state.messages[at - 1];
    if (entry.kind === 'message') {
      entry.recovered = true;
      left--;
    }
  }
  state.messages.splice(at, 0, { kind: 'system', text, warn });
  if (room === active) {
    renderMembers();
    renderMessages();
    showNotice(text, warn ? 'warn' : 'ok', room);
  }
  flashBadge(warn ? 'Connected · messages lost' : `Connected · recovered ${n}`, warn ? 'warn' : 'ok');
}

/** Shows a recovery outcome on the badge for a moment; any state change ends it. */
function flashBadge(text, kind) {
  const badge = $('state-badge');
  if (badge.dataset.state !== 'connected') return;
  badge.dataset.flash = kind;
  badge.querySelector('.badge-text').textContent = text;
  clearTimeout(badgeTimer);
  badgeTimer = setTimeout(() => showState(badge.dataset.state), NOTICE_MS);
}

function onClosed({ code, reason, willReconnect }) {
  const why = reason ? `${reason} (${code})` : `code ${code}`;
  $('state-badge').title = `Last close: ${why}`;
  if (willReconnect) return; // the badge says "Reconnecting…"
  showNotice(`Disconnected by the server: ${why}. Sign out and in again to reconnect.`, 'warn');
}

/** Errors of requests reject their promise; these are about the connection (e.g. no ticket). */
function onError(error) {
  console.warn('broker:', error.code, error.message);
  if (client && client.state !== 'connected') showNotice(`Connection problem: ${error.message}`, 'warn', '', 'connection');
}

function showNotice(text, kind, room = '', source = '') {
  const notice = $('notice');
  const list = $('message-list');
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  notice.textContent = text;
  notice.dataset.kind = kind;
  notice.dataset.room = room;
  notice.dataset.source = source;
  notice.hidden = false;
  if (atBottom) list.scrollTop = list.scrollHeight; // the notice took room from the list; keep the newest in view
  clearTimeout(noticeTimer);
  // A success fades; a warning stays until the next notice.
  if (kind === 'ok') noticeTimer = setTimeout(() => { notice.hidden = true; }, NOTICE_MS);
}

/** The sender's clock when the payload carries it (so recovered messages keep their time), else now. */
function sentAt(payload) {
  const at = payload && typeof payload === 'object' ? payload.sentAt : undefined;
  const now = Date.now();
  // Anyone can put anything in a payload: a time outside a day of now is not believed.
  return Number.isFinite(at) && Math.abs(at - now) < 86_400_000 ? at : now;
}

// ---- rendering ----

function renderRooms() {
  const items = [...rooms.keys()].sort().map((room) => {
    const li = el('li');
    li.dataset.testid = 'room-item';
    li.dataset.room = room;
    li.setAttribute('aria-current', String(room === active));
    const button = el('button');
    button.type = 'button';
    button.append(el('span', '', `# ${room}`));
    const unread = rooms.get(room).unread;
    if (unread > 0) button.append(el('span', 'unread', String(unread)));
    button.addEventListener('click', () => select(room));
    li.append(button);
    return li;
  });
  $('room-list').replaceChildren(...items);
  $('room-title').textContent = `#${active}`;
  $('composer-input').placeholder = `Message #${active}`;
}

function renderMembers() {
  const members = [...roomState(active).members].sort((a, b) => a.localeCompare(b));
  const items = members.map((user) => {
    const li = el('li');
    li.dataset.testid = 'member';
    li.dataset.user = user;
    li.append(avatar(user), el('span', 'name', user));
    if (user === me) li.append(el('span', 'you', '(you)'));
    else {
      li.title = `Send ${user} a direct message`;
      li.classList.add('clickable');
      li.addEventListener('click', () => {
        const input = $('composer-input');
        input.value = `/dm ${user} `;
        input.focus();
      });
    }
    return li;
  });
  $('member-list').replaceChildren(...items);
  $('member-count').textContent = String(members.length);
  $('leave-room').disabled = rooms.size <= 1; // always stay in at least one room
  $('room-meta').textContent = `${members.length} member${members.length === 1 ? '' : 's'} online`;
}

function renderMessages() {
  const list = $('message-list');
  const { messages } = roomState(active);
  list.replaceChildren();
  if (messages.length === 0) {
    const empty = el('li', 'empty', `No messages in #${active} yet. Say hello!`);
    empty.dataset.testid = 'empty-room';
    list.append(empty);
  }
  for (const entry of messages) appendMessage(entry);
  list.scrollTop = list.scrollHeight; // a room opens (or re-renders) at its newest message
  const notice = $('notice');
  if (notice.dataset.room && notice.dataset.room !== active) notice.hidden = true;
}

function appendMessage(entry) {
  const list = $('message-list');
  list.querySelector('[data-testid="empty-room"]')?.remove();
  let item;
  if (entry.kind === 'system' || entry.kind === 'presence') {
    item = el('li', entry.warn ? 'system warn' : 'system', entry.text);
    item.dataset.testid = entry.kind === 'system' ? 'system-note' : 'presence-note';
  } else {
    const own = entry.from === me;
    // Consecutive messages of one sender form a group: name and avatar once.
    const previous = list.lastElementChild;
    const grouped = entry.kind === 'message' && previous?.dataset.testid === 'message' && previous.dataset.from === entry.from;
    const classes = ['msg', own && 'own', entry.kind === 'direct' && 'direct', entry.recovered && 'recovered', grouped && 'grouped'];
    item = el('li', classes.filter(Boolean).join(' '));
    item.dataset.testid = entry.kind === 'direct' ? 'direct-message' : 'message';
    item.dataset.from = entry.from;
    if (entry.offset !== undefined) item.dataset.offset = String(entry.offset);
    const bubble = el('div', 'bubble');
    const meta = el('div', 'meta');
    const who = own ? 'You' : entry.from;
    meta.append(el('span', 'from', entry.kind === 'direct' ? (entry.to ? `You → ${entry.to}` : `${who} → you`) : who));
    if (entry.kind === 'direct') meta.append(el('span', 'tag', 'direct'));
    const time = el('time', '', timeOf(entry.at));
    time.dateTime = new Date(entry.at).toISOString();
    time.title = new Date(entry.at).toLocaleString();
    meta.append(time);
    const text = el('div', 'text', entry.text);
    text.dataset.testid = 'message-text';
    bubble.append(meta, text);
    item.append(avatar(entry.from), bubble);
  }
  // Follow new messages only when the reader is already at the bottom (or wrote it).
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.append(item);
  if (atBottom || entry.from === me) list.scrollTop = list.scrollHeight;
}

// ---- composer and controls ----

async function send(event) {
  event.preventDefault();
  const input = $('composer-input');
  const text = input.value.trim();
  if (!text || !client || client.state !== 'connected') return;
  input.value = '';
  const direct = /^\/dm\s+(\S+)\s+([\s\S]+)$/.exec(text);
  try {
    if (direct) {
      const [, user, body] = direct;
      const payload = { text: body, sentAt: Date.now() };
      const { delivered } = await client.send(user, payload);
      addDirect({ kind: 'direct', from: me, to: user, text: body, at: payload.sentAt });
      if (delivered === 0) showNotice(`${user} is not online; the direct message reached nobody.`, 'warn');
    } else {
      await client.publish(active, { text, sentAt: Date.now() });
    }
  } catch (error) {
    input.value = text; // give the text back, so nothing typed is lost
    showNotice(`Not sent: ${error.message || error}`, 'warn');
  }
}

async function addRoom(event) {
  event.preventDefault();
  const input = $('room-input');
  const room = input.value.trim().replace(/^#/, '');
  if (!ROOM_NAME.test(room)) {
    showNotice('Room names use letters, digits and _ . : - (at most 128).', 'warn');
    return;
  }
  input.value = '';
  if (rooms.has(room)) {
    select(room);
    return;
  }
  try {
    await joinRoom(room);
  } catch (error) {
    showNotice(`Could not join #${room}: ${error.message || error}`, 'warn');
  }
}

function signOut() {
  stop();
  $('chat').hidden = true;
  $('login').hidden = false;
  $('current-user').hidden = true;
  $('sign-out').hidden = true;
  $('notice').hidden = true;
  $('name-input').focus();
}

$('login-form').addEventListener('submit', signIn);
$('composer').addEventListener('submit', send);
$('composer-input').addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) send(event);
});
$('add-room-form').addEventListener('submit', addRoom);
$('leave-room').addEventListener('click', () => leaveRoom(active).catch((error) => showNotice(String(error.message || error), 'warn')));
$('sign-out').addEventListener('click', signOut);
$('notice').addEventListener('click', () => { $('notice').hidden = true; });
$('name-input').value = localStorage.getItem('broker-demo-name') ?? '';
showState('idle');
