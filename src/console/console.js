// vroom's operator console. Everything it shows or does goes through the REST API (/v1) with the
// credentials the operator logs in with; POST /console/token mints join tokens. It refreshes every
// second; durations of what is still going on count up between refreshes.
//
// Data from the server (names, identities) is only ever put in the page as text, never as HTML.

'use strict';

const REFRESH_MS = 1000;
const RECENT_ROOMS = 20;
const STORAGE_KEY = 'vroom-console-credentials';

const $ = (id) => document.getElementById(id);
const state = { auth: null, selected: null, rooms: new Map(), room: null, timer: null };

// --- talking to vroom ------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    super(body && body.message ? `${body.message} (error ${body.code})` : `HTTP ${status}`);
    this.status = status;
  }
}

async function call(method, path, form) {
  // The Authorization header is ours; `omit` keeps the browser's own credentials out, and with them
  // its login prompt on a 401 (the REST API answers WWW-Authenticate, as Twilio's does), so a wrong
  // secret comes back here as an error instead of a dialog.
  const init = { method, headers: { Authorization: state.auth }, credentials: 'omit' };
  if (form) {
    init.body = new URLSearchParams(form);
    init.headers['Content-Type'] = 'application/x-www-form-urlencoded';
  }
  const resp = await fetch(path, init);
  const body = await resp.json().catch(() => null);
  if (!resp.ok) throw new ApiError(resp.status, body);
  return body;
}

const get = (path) => call('GET', path);
const post = (path, form) => call('POST', path, form);
const seg = encodeURIComponent;

// --- formatting ------------------------------------------------------------------------------

function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n) => String(n).padStart(2, '0');
  if (h) return `${h}h${pad(m)}m${pad(s % 60)}s`;
  if (m) return `${m}m${pad(s % 60)}s`;
  return `${s % 60}s`;
}

// The duration of a room or participant: its own once it ended, else counted from `since`.
function lasted(resource, since) {
  if (typeof resource.duration === 'number') return duration(resource.duration);
  return `${duration((Date.now() - Date.parse(resource[since])) / 1000)}`;
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') node.className = v;
    else if (k === 'data') Object.assign(node.dataset, v);
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node[k] = v;
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function notice(message) {
  delete $('notice').dataset.from;
  $('notice').textContent = message || '';
  $('notice').hidden = !message;
}

// --- logging in ------------------------------------------------------------------------------

async function logIn(user, password) {
  state.auth = `Basic ${btoa(`${user}:${password}`)}`;
  try {
    await get('/v1/Rooms?PageSize=1');
  } catch (e) {
    state.auth = null;
    throw e.status === 401 ? new Error("Those are not this server's account or API key credentials.") : e;
  }
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify({ user, password }));
  $('whoami').textContent = user;
  $('whoami').hidden = false;
  $('logout').hidden = false;
  $('login').hidden = true;
  $('app').hidden = false;
  notice('');
  await refresh();
}

function logOut() {
  sessionStorage.removeItem(STORAGE_KEY);
  clearTimeout(state.timer);
  state.auth = null;
  state.selected = null;
  $('app').hidden = true;
  $('whoami').hidden = true;
  $('logout').hidden = true;
  $('login').hidden = false;
}

$('login-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  try {
    await logIn($('login-user').value.trim(), $('login-password').value);
  } catch (e) {
    notice(e.message);
  }
});
$('logout').addEventListener('click', logOut);

// --- refreshing ------------------------------------------------------------------------------

// One refresh at a time: a refresh asked for while one runs happens right after it.
let running = null;
let again = false;

function refresh() {
  if (running) {
    again = true;
    return running;
  }
  clearTimeout(state.timer);
  running = load().finally(() => {
    running = null;
    if (!state.auth) return;
    if (again) {
      again = false;
      refresh();
    } else {
      state.timer = setTimeout(refresh, REFRESH_MS);
    }
  });
  return running;
}

async function load() {
  if (!state.auth) return;
  try {
    const [live, recent] = await Promise.all([
      get('/v1/Rooms?Status=in-progress&PageSize=100'),
      get(`/v1/Rooms?Status=completed&PageSize=${RECENT_ROOMS}`),
    ]);
    renderRooms(live.rooms, recent.rooms);
    if (state.selected) await refreshRoom(state.selected);
    if ($('notice').dataset.from === 'refresh') notice('');
  } catch (e) {
    if (e.status === 401) {
      logOut();
      notice('The server no longer accepts these credentials: log in again.');
      return;
    }
    notice(`Cannot refresh: ${e.message}`);
    $('notice').dataset.from = 'refresh';
  }
}

function renderRooms(live, recent) {
  state.rooms = new Map([...live, ...recent].map((r) => [r.sid, r]));
  $('live-count').textContent = `(${live.length})`;
  const item = (r, meta) => el('li', {},
    el('button', {
      type: 'button',
      class: r.sid === state.selected ? 'selected' : '',
      data: { sid: r.sid, name: r.unique_name },
      onclick: () => select(r.sid),
    }, el('span', { class: 'name' }, r.unique_name), el('span', { class: 'meta' }, meta)));
  const none = (what) => [el('li', { class: 'meta' }, what)];
  $('live-rooms').replaceChildren(...(live.length ? live.map((r) => item(r, `${r.type} · ${lasted(r, 'date_created')}`)) : none('None right now.')));
  $('recent-rooms').replaceChildren(...(recent.length ? recent.map((r) => item(r, `${r.status} · lasted ${lasted(r, 'date_created')}`)) : none('None yet.')));
}

async function select(sid) {
  state.selected = sid;
  $('token-output').hidden = true;
  $('token-hint').hidden = true;
  await refresh();
}

async function refreshRoom(sid) {
  const room = await get(`/v1/Rooms/${seg(sid)}`);
  const base = `/v1/Rooms/${seg(sid)}/Participants`;
  const [connected, gone] = await Promise.all([
    room.status === 'in-progress' ? get(`${base}?Status=connected&PageSize=100`) : { participants: [] },
    get(`${base}?Status=disconnected&PageSize=50`),
  ]);
  const people = await Promise.all(connected.participants.map(async (p) => {
    const [pub, sub] = await Promise.all([
      get(`${base}/${seg(p.sid)}/PublishedTracks`),
      get(`${base}/${seg(p.sid)}/SubscribedTracks`),
    ]);
    return { ...p, published: pub.published_tracks, subscribed: sub.subscribed_tracks };
  }));
  if (state.selected !== sid) return;
  state.room = room;
  renderRoom(room, [...people, ...gone.participants.map((p) => ({ ...p, published: [], subscribed: [] }))]);
}

function renderRoom(room, participants) {
  $('no-room').hidden = true;
  $('room-detail').hidden = false;
  $('room-detail').dataset.sid = room.sid;
  $('room-name').textContent = room.unique_name;
  $('room-status').textContent = room.status;
  $('room-status').className = `status ${room.status}`;
  $('room-sid').textContent = room.sid;
  $('room-type').textContent = room.type;
  $('room-created').textContent = room.date_created;
  $('room-duration').textContent = lasted(room, 'date_created') + (room.status === 'in-progress' ? ' (in progress)' : '');
  const live = room.status === 'in-progress';
  $('complete-room').hidden = !live;
  $('token-panel').hidden = !live;
  const rows = participants.map((p) => el('tr', { data: { sid: p.sid, identity: p.identity, status: p.status } },
    el('td', { class: 'identity' }, p.identity),
    el('td', { class: 'sid' }, p.sid),
    el('td', {}, el('span', { class: `status ${p.status}` }, p.status)),
    el('td', { class: 'duration' }, lasted(p, 'start_time')),
    el('td', { class: 'tracks' }, ...[...p.published].sort((a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name)).map((t) => el('span', {
      class: t.enabled ? 'track' : 'track off',
      title: `${t.kind} track ${t.name} (${t.sid})${t.enabled ? '' : ', disabled'}`,
      data: { kind: t.kind, name: t.name },
    }, `${t.kind}: ${t.name}`))),
    el('td', { class: 'receives' }, p.status === 'connected' ? String(p.subscribed.length) : ''),
    el('td', {}, p.status === 'connected'
      ? el('button', { type: 'button', class: 'kick danger', onclick: () => kick(room.sid, p) }, 'Kick')
      : ''),
  ));
  $('participants').querySelector('tbody').replaceChildren(...rows);
  const connected = participants.filter((p) => p.status === 'connected').length;
  $('connected-count').textContent = `(${connected} connected)`;
  $('no-participants').hidden = participants.length > 0;
}

// --- actions ---------------------------------------------------------------------------------

async function act(what, action) {
  try {
    await action();
    notice('');
  } catch (e) {
    notice(`${what} failed: ${e.message}`);
  }
  await refresh();
}

function kick(roomSid, p) {
  return act(`Kicking ${p.identity}`, () => post(`/v1/Rooms/${seg(roomSid)}/Participants/${seg(p.sid)}`, { Status: 'disconnected' }));
}

$('complete-room').addEventListener('click', () => {
  const room = state.room;
  if (!room || !window.confirm(`End ${room.unique_name} for everyone in it?`)) return;
  act(`Completing ${room.unique_name}`, () => post(`/v1/Rooms/${seg(room.sid)}`, { Status: 'completed' }));
});

$('token-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const room = state.room;
  if (!room) return;
  try {
    const minted = await post('/console/token', { Identity: $('token-identity').value.trim(), Room: room.unique_name });
    $('token-output').value = minted.token;
    $('token-output').hidden = false;
    $('token-hint').hidden = false;
    notice('');
  } catch (e) {
    notice(`Minting a token failed: ${e.message}`);
  }
});

// --- start -----------------------------------------------------------------------------------

const saved = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || 'null');
if (saved) logIn(saved.user, saved.password).catch((e) => { logOut(); notice(e.message); });
