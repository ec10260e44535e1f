// The operator console: polls /admin/cluster every second and draws what it gets; looks users up
// and disconnects them through /admin/users/{user}. Every request carries the credential the
// sign-in page saved (AdminCredentials). Everything shown that came from the broker is set as
// textContent: user ids and room names are user input.
'use strict';

const POLL_MS = 1000;
const COLORS = ['#3538cd', '#e04f16', '#099250', '#c11574', '#0e9384', '#b54708', '#6938ef', '#475467'];
const $ = (id) => document.getElementById(id);

/** The colour of a node, stable for the page's life (nodes keep theirs as others come and go). */
const nodeColors = new Map();
function colorOf(node) {
  if (!nodeColors.has(node)) nodeColors.set(node, COLORS[nodeColors.size % COLORS.length]);
  return nodeColors.get(node);
}

/** A table cell with `text`, optionally with a class. */
function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text === null || text === undefined ? '' : String(text);
  if (className) td.className = className;
  return td;
}

function row(...cells) {
  const tr = document.createElement('tr');
  tr.append(...cells);
  return tr;
}

function badge(text, className) {
  const span = document.createElement('span');
  span.className = 'badge ' + className;
  span.textContent = text;
  return span;
}

function swatch(node) {
  const span = document.createElement('span');
  span.className = 'swatch';
  span.style.background = colorOf(node);
  return span;
}

function time(ms) {
  return new Date(ms).toLocaleTimeString([], { hour12: false });
}

async function call(path, init = {}) {
  const response = await fetch(path, { ...init, cache: 'no-store', headers: { ...AdminCredentials.headers(), ...(init.headers || {}) } });
  if (response.status === 401 || response.status === 403) {
    $('status').textContent = 'credentials no longer accepted: sign in again';
    $('status').className = 'meta bad';
    throw new Error('signed out');
  }
  const body = response.headers.get('content-type')?.includes('json') ? await response.json() : null;
  if (!response.ok) throw new Error((body && body.error) || ('HTTP ' + response.status));
  return body;
}

// ---- charts -------------------------------------------------------------------------------

/** One uPlot chart: one series per node, x in seconds. Rebuilt when the set of nodes changes. */
class NodeChart {
  constructor(element, field, unit) {
    this.element = element;
    this.field = field;
    this.unit = unit;
    this.plot = null;
    this.nodes = '';
  }

  update(members) {
    const withSamples = members.filter((m) => m.samples.length > 0);
    // Nodes tick independently: align them on whole seconds, a gap where a node has no sample.
    const seconds = new Set();
    for (const m of withSamples) for (const s of m.samples) seconds.add(Math.round(s.atMs / 1000));
    const xs = [...seconds].sort((a, b) => a - b);
    const index = new Map(xs.map((x, i) => [x, i]));
    const data = [xs];
    for (const m of withSamples) {
      const ys = new Array(xs.length).fill(null);
      for (const s of m.samples) ys[index.get(Math.round(s.atMs / 1000))] = s[this.field];
      data.push(ys);
    }
    const nodes = withSamples.map((m) => m.node).join(',');
    // Each node's own latest value: at the newest second a node that samples later in the second
    // has no point yet, so the column at the right edge would hide it.
    const last = withSamples.map((m) => m.samples[m.samples.length - 1][this.field]).join(',');
    if (this.plot && nodes === this.nodes) {
      this.plot.setData(data);
      this.element.dataset.points = String(xs.length);
      this.element.dataset.last = last;
      return;
    }
    if (this.plot) this.plot.destroy();
    this.nodes = nodes;
    const unit = this.unit;
    this.plot = new uPlot({
      width: Math.max(this.element.clientWidth, 300),
      height: 220,
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.15)] } },
      axes: [{}, { size: 55, values: (u, values) => values.map((v) => v + unit) }],
      series: [{}, ...withSamples.map((m) => ({ label: m.node, stroke: colorOf(m.node), width: 2, spanGaps: true, points: { show: false } }))],
      legend: { live: false },
    }, data, this.element);
    this.element.dataset.points = String(xs.length);
    this.element.dataset.last = last;
  }

  resize() {
    if (this.plot) this.plot.setSize({ width: Math.max(this.element.clientWidth, 300), height: 220 });
  }
}

const charts = [
  new NodeChart($('chart-connections'), 'connections', ''),
  new NodeChart($('chart-publishes'), 'publishesPerSecond', '/s'),
  new NodeChart($('chart-deliveries'), 'deliveriesPerSecond', '/s'),
];
window.addEventListener('resize', () => charts.forEach((c) => c.resize()));

// ---- panels -------------------------------------------------------------------------------

function statusClass(status) {
  return status === 'Up' ? 'up' : status === 'Down' || status === 'Removed' ? 'down' : 'other';
}

function renderMembers(report) {
  $('self').textContent = report.self;
  $('leader').textContent = report.leader || 'none';
  const rows = report.members.map((m) => {
    const name = cell('');
    name.append(swatch(m.node), document.createTextNode(m.node));
    if (m.isSelf) name.append(badge('you are here', 'self'));
    if (m.isLeader) name.append(badge('leader', 'leader'));
    name.title = m.address;
    const tr = row(
      name,
      cell(m.status, statusClass(m.status)),
      cell(m.reachable ? 'yes' : 'unreachable', m.reachable ? 'up' : 'bad'),
      cell(m.roles.join(', ')),
      cell(m.answered ? m.connections : '–', 'num'),
      cell(m.answered ? m.roomsWithMembers : '–', 'num'),
      cell(m.answered ? 'answered' : m.problem, m.answered ? '' : 'bad'));
    tr.dataset.testid = 'member';
    tr.dataset.node = m.node;
    tr.dataset.status = m.status;
    tr.dataset.answered = String(m.answered);
    return tr;
  });
  $('members').replaceChildren(...rows);
}

function renderRooms(report) {
  const rows = report.rooms.map((r) => {
    const byNode = Object.entries(r.byNode).sort().map(([node, n]) => node + ': ' + n).join(' · ');
    const tr = row(cell(r.room), cell(r.connections, 'num'), cell(byNode));
    tr.dataset.testid = 'room';
    tr.dataset.room = r.room;
    tr.dataset.nodes = String(Object.keys(r.byNode).length);
    return tr;
  });
  $('rooms').replaceChildren(...rows);
  $('rooms-note').textContent = rows.length === 0 ? 'no room has members' : 'connections in each room, summed over the nodes that answered';
}

function renderCutOffs(report) {
  $('cutoff-counts').replaceChildren(...report.cutOffs.counts.map((c) => row(cell(c.code, 'num'), cell(c.reason), cell(c.count, 'num'))));
  $('cutoffs').replaceChildren(...report.cutOffs.recent.map((c) => {
    const tr = row(cell(time(c.atMs)), cell(c.node), cell(c.user ?? '(not signed in)'), cell(c.route), cell(c.code, 'num'), cell(c.reason));
    tr.dataset.testid = 'cutoff';
    tr.dataset.user = c.user ?? '';
    tr.dataset.code = String(c.code);
    return tr;
  }));
}

async function poll() {
  try {
    const report = await call('/admin/cluster');
    renderMembers(report);
    for (const chart of charts) chart.update(report.members);
    renderRooms(report);
    renderCutOffs(report);
    const silent = report.members.filter((m) => !m.answered).length;
    $('status').textContent = 'updated ' + time(report.atMs) + (silent ? ' · ' + silent + ' node(s) not answering' : '');
    $('status').className = 'meta' + (silent ? ' bad' : '');
  } catch (error) {
    if (error.message === 'signed out') return; // stop polling: the credential is gone
    $('status').textContent = 'broker unreachable: ' + error.message;
    $('status').className = 'meta bad';
  }
  setTimeout(poll, POLL_MS);
}

// ---- user lookup and disconnect -----------------------------------------------------------

let shownUser = null;

async function lookUp(user) {
  $('user-outcome').textContent = '';
  try {
    const found = await call('/admin/users/' + encodeURIComponent(user));
    shownUser = found.user;
    $('user').hidden = false;
    $('user-name').textContent = found.user;
    $('user-summary').textContent = found.online
      ? found.connections.length + ' connection(s) on ' + found.nodes.join(', ') + (found.rooms.length ? '; rooms ' + found.rooms.join(', ') : '; in no room')
      : 'not connected';
    $('user-summary').dataset.connections = String(found.connections.length);
    $('user-connections').replaceChildren(...found.connections.map((c) => {
      const tr = row(cell(c.connectionId), cell(c.node), cell(c.rooms.join(', ')));
      tr.dataset.testid = 'user-connection';
      return tr;
    }));
    $('disconnect').disabled = !found.online;
  } catch (error) {
    $('user').hidden = true;
    $('user-outcome').textContent = 'lookup failed: ' + error.message;
  }
}

$('lookup').addEventListener('submit', (event) => {
  event.preventDefault();
  const user = $('lookup-user').value.trim();
  if (user) lookUp(user);
});

$('disconnect').addEventListener('click', async () => {
  const user = shownUser;
  if (!user) return;
  const stayAway = $('disconnect-stay-away').checked;
  const how = stayAway ? 'closed with 4403 and told not to reconnect' : 'closed with 4500: their clients reconnect and recover';
  if (!window.confirm('Disconnect every connection of "' + user + '"? They are ' + how + '.')) return;
  $('disconnect').disabled = true;
  try {
    const done = await call('/admin/users/' + encodeURIComponent(user) + '/disconnect', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ reconnect: !stayAway }),
    });
    $('user-outcome').textContent = 'disconnected ' + done.disconnected + ' connection(s) of ' + user;
  } catch (error) {
    $('user-outcome').textContent = 'disconnect failed: ' + error.message;
  }
  const outcome = $('user-outcome').textContent;
  await lookUp(user);
  $('user-outcome').textContent = outcome;
});

$('signout').addEventListener('click', () => {
  sessionStorage.removeItem('brokerAdminCredential');
  location.reload();
});

poll();
