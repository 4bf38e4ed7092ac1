#!/usr/bin/env node
// twilio-video.js 2.36.0 in headless Chromium against a running vroom.
//
// Started by tests/it/browser.rs, or by hand against any vroom:
//   VROOM_BASE_URL=http://127.0.0.1:8080 VROOM_WS_URL=ws://127.0.0.1:8080/signaling \
//   VROOM_ACCOUNT_SID=AC… VROOM_API_KEY_SID=SK… VROOM_API_KEY_SECRET=… node tests/browser/run.js [scenario…]
// Scenarios come from the arguments or VROOM_SCENARIOS (comma-separated); all of them when neither is
// given. Prints one line per check and exits 1 at the first failed check, after printing what each
// page logged. Each page is its own browser context (no shared storage), loads the SDK from a local
// HTTP server this script starts, and every request and WebSocket it makes is checked to stay on
// 127.0.0.1. VROOM_BROWSER_TRACE=1 prints each page's events, console and WebSocket frames even on
// success.

'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');

const jwt = require('jsonwebtoken');
const { chromium } = require('playwright-core');

const EVENT_TIMEOUT_MS = 20000;
const REST_TIMEOUT_MS = 10000;
const WATCHDOG_MS = Number(process.env.VROOM_BROWSER_WATCHDOG_MS || 150000);
const FRAME_CHARS = process.env.VROOM_BROWSER_TRACE ? 100000 : 400;
const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--autoplay-policy=no-user-gesture-required',
];

// ---------------------------------------------------------------------------------------------------
// Configuration

function requireEnv(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`run.js: the environment variable ${name} is required (see the comment at the top of run.js)`);
    process.exit(2);
  }
  return value;
}

const BASE_URL = requireEnv('VROOM_BASE_URL').replace(/\/$/, '');
const WS_URL = requireEnv('VROOM_WS_URL');
const ACCOUNT_SID = requireEnv('VROOM_ACCOUNT_SID');
const API_KEY_SID = requireEnv('VROOM_API_KEY_SID');
const API_KEY_SECRET = requireEnv('VROOM_API_KEY_SECRET');
const CHROMIUM = process.env.VROOM_CHROMIUM || '/usr/bin/chromium';

// ---------------------------------------------------------------------------------------------------
// Checks

class CheckFailed extends Error {}

let currentScenario = '-';

function pass(label) {
  console.log(`ok   [${currentScenario}] ${label}`);
}

function check(condition, label, detail) {
  if (!condition) {
    const shown = typeof detail === 'string' ? detail : JSON.stringify(detail);
    throw new CheckFailed(`[${currentScenario}] ${label}${detail === undefined ? '' : `: got ${shown}`}`);
  }
  pass(label);
}

function equal(actual, expected, label) {
  check(actual === expected, label, `${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
}

const sidPattern = (prefix) => new RegExp(`^${prefix}[0-9a-f]{32}$`);

// ---------------------------------------------------------------------------------------------------
// Access tokens, minted like Twilio's helper libraries do.

function token(identity, room, { secret = API_KEY_SECRET, ttl = 3600 } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    jti: `${API_KEY_SID}-${now}-${crypto.randomBytes(4).toString('hex')}`,
    iss: API_KEY_SID,
    sub: ACCOUNT_SID,
    nbf: now,
    exp: now + ttl,
    grants: { identity, video: room ? { room } : {} },
  };
  return jwt.sign(claims, secret, {
    algorithm: 'HS256',
    header: { alg: 'HS256', typ: 'JWT', cty: 'twilio-fpa;v=1' },
    noTimestamp: true,
  });
}

// ---------------------------------------------------------------------------------------------------
// REST

async function rest(method, urlPath, form) {
  const headers = { authorization: `Basic ${Buffer.from(`${API_KEY_SID}:${API_KEY_SECRET}`).toString('base64')}` };
  let body;
  if (form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(form).toString();
  }
  const res = await fetch(`${BASE_URL}${urlPath}`, { method, headers, body });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = { unparsed: text };
  }
  return { status: res.status, body: json };
}

// Waits (polling Node-side state) until `condition()` is true.
async function until(label, condition, timeoutMs, describe) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new CheckFailed(`[${currentScenario}] ${label}: not within ${timeoutMs} ms${describe ? `; ${describe()}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  pass(label);
}

// Polls `probe` until it returns a truthy value; fails with the last value after REST_TIMEOUT_MS.
async function eventually(label, probe) {
  const until = Date.now() + REST_TIMEOUT_MS;
  let last;
  for (;;) {
    last = await probe();
    if (last && last.ok) {
      pass(label);
      return last;
    }
    if (Date.now() > until) {
      throw new CheckFailed(`[${currentScenario}] ${label}: still ${JSON.stringify(last && last.seen)} after ${REST_TIMEOUT_MS} ms`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function participantStatus(roomSid, participantSid) {
  return async () => {
    const r = await rest('GET', `/v1/Rooms/${roomSid}/Participants/${participantSid}`);
    return { ok: false, seen: r.body && r.body.status, status: r.status, body: r.body };
  };
}

async function expectParticipantStatus(roomSid, participantSid, status, who) {
  const probe = participantStatus(roomSid, participantSid);
  return eventually(`REST shows ${who} (${participantSid}) ${status}`, async () => {
    const r = await probe();
    return Object.assign(r, { ok: r.status === 200 && r.seen === status });
  });
}

// ---------------------------------------------------------------------------------------------------
// The static page

function startPageServer() {
  const files = {
    '/': ['page/index.html', 'text/html; charset=utf-8'],
    '/index.html': ['page/index.html', 'text/html; charset=utf-8'],
    '/harness.js': ['page/harness.js', 'text/javascript; charset=utf-8'],
    '/twilio-video.min.js': ['node_modules/twilio-video/dist/twilio-video.min.js', 'text/javascript; charset=utf-8'],
  };
  const server = http.createServer((req, res) => {
    const file = files[new URL(req.url, 'http://127.0.0.1').pathname];
    if (!file) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    fs.readFile(path.join(__dirname, file[0]), (err, data) => {
      if (err) {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err));
      } else {
        res.writeHead(200, { 'content-type': file[1], 'cache-control': 'no-store' }).end(data);
      }
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

// A TCP relay in front of vroom's signaling whose connections can be cut on demand, so a page loses
// its WebSocket without a close handshake, as on a network failure.
function startRelay() {
  const target = new URL(WS_URL);
  const pairs = new Set();
  let accepted = 0;
  const server = net.createServer((inbound) => {
    accepted += 1;
    const outbound = net.connect(Number(target.port || 80), target.hostname);
    const pair = [inbound, outbound];
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      inbound.destroy();
      outbound.destroy();
    };
    inbound.on('error', end).on('close', end);
    outbound.on('error', end).on('close', end);
    inbound.pipe(outbound);
    outbound.pipe(inbound);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `ws://127.0.0.1:${server.address().port}${target.pathname}`,
        accepted: () => accepted,
        open: () => pairs.size,
        // Cuts every relayed connection: both sockets are reset, no WebSocket close frame is sent.
        cut() {
          const n = pairs.size;
          for (const [a, b] of pairs) {
            a.resetAndDestroy();
            b.resetAndDestroy();
          }
          pairs.clear();
          return n;
        },
        close: () => server.close(),
      }),
    );
  });
}

// ---------------------------------------------------------------------------------------------------
// Browser clients: one browser context and page each.

function isLocal(url) {
  let u;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.protocol === 'data:' || u.protocol === 'blob:' || u.protocol === 'about:') {
    return true;
  }
  return LOCAL_HOSTS.has(u.hostname);
}

function isHeartbeat(payload) {
  try {
    return JSON.parse(String(payload)).type === 'heartbeat';
  } catch {
    return false;
  }
}

class Client {
  constructor(run, label, context, page) {
    this.run = run;
    this.label = label;
    this.context = context;
    this.page = page;
    this.console = [];
    this.pageErrors = [];
    this.requests = [];
    this.websockets = [];
    this.frames = [];
    this.heartbeatsSent = 0;
    this.heartbeatsReceived = 0;
  }

  static async open(run, label) {
    const context = await run.browser.newContext();
    const page = await context.newPage();
    const client = new Client(run, label, context, page);
    // Anything not addressed to this machine is recorded and refused before it leaves.
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (isLocal(url)) {
        return route.continue();
      }
      run.offHost.push(`${label}: ${route.request().method()} ${url}`);
      return route.abort('blockedbyclient');
    });
    context.on('request', (req) => {
      client.requests.push(req.url());
      if (!isLocal(req.url())) {
        run.offHost.push(`${label}: request ${req.url()}`);
      }
    });
    page.on('websocket', (ws) => {
      client.websockets.push(ws.url());
      if (!isLocal(ws.url())) {
        run.offHost.push(`${label}: websocket ${ws.url()}`);
      }
      ws.on('framesent', (f) => {
        client.frames.push(`-> ${String(f.payload).slice(0, FRAME_CHARS)}`);
        client.heartbeatsSent += isHeartbeat(f.payload) ? 1 : 0;
      });
      ws.on('framereceived', (f) => {
        client.frames.push(`<- ${String(f.payload).slice(0, FRAME_CHARS)}`);
        client.heartbeatsReceived += isHeartbeat(f.payload) ? 1 : 0;
      });
      ws.on('close', () => client.frames.push('-- closed'));
    });
    page.on('console', (m) => client.console.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => client.pageErrors.push(String(e && e.stack ? e.stack : e)));
    await page.goto(`${run.pageUrl}/index.html`);
    const ready = await page.evaluate(() => window.harnessReady === true);
    check(ready, `${label}: page loaded twilio-video.js ${await page.evaluate(() => (window.Twilio && Twilio.Video && Twilio.Video.version) || '?')}`);
    run.clients.push(client);
    return client;
  }

  // Connects to `room` as `identity`; returns the room summary. Fails the check if connect() rejects.
  async connect(identity, room, options) {
    const opts = Object.assign({ wsServer: WS_URL, name: room }, options || {});
    const summary = await this.page.evaluate(([t, o]) => window.harness.connect(t, o), [token(identity, room), opts]);
    check(summary && !summary.error, `${this.label}: connect() as '${identity}' resolved`, summary);
    return summary;
  }

  // connect() with a ready-made token; resolves with the summary or `{ error }`, checking nothing.
  connectWith(accessToken, room) {
    const opts = { wsServer: WS_URL, name: room };
    return this.page.evaluate(([t, o]) => window.harness.connect(t, o), [accessToken, opts]);
  }

  summary() {
    return this.page.evaluate(() => window.harness.summary());
  }

  disconnect() {
    return this.page.evaluate(() => window.harness.disconnect());
  }

  publish(kind, name) {
    return this.page.evaluate(([k, n]) => window.harness.publish(k, n), [kind, name]);
  }

  unpublish(trackSid) {
    return this.page.evaluate((sid) => window.harness.unpublish(sid), trackSid);
  }

  events() {
    return this.page.evaluate(() => window.harness.events.slice());
  }

  inbound() {
    return this.page.evaluate(() => window.harness.inbound());
  }

  // Waits until every track SID in `sids` shows packets and decoded frames (audio: samples) rising.
  async mediaFlows(sids, what) {
    const label = `${this.label}: ${what}`;
    const first = await this.inbound();
    const deadline = Date.now() + EVENT_TIMEOUT_MS;
    let last = first;
    for (;;) {
      await new Promise((r) => setTimeout(r, 500));
      last = await this.inbound();
      const rising = sids.every((sid) => {
        const a = first[sid] || { packets: 0, frames: 0 };
        const b = last[sid];
        return b && b.packets > a.packets && b.frames > a.frames && b.frames > 0;
      });
      if (rising) {
        pass(`${label} (${sids.map((s) => `${s.slice(0, 8)}…: ${last[s].packets} packets, ${last[s].frames} ${last[s].kind === 'video' ? 'frames' : 'samples'}`).join('; ')})`);
        return last;
      }
      if (Date.now() > deadline) {
        throw new CheckFailed(`[${currentScenario}] ${label}: not rising within ${EVENT_TIMEOUT_MS} ms; first ${JSON.stringify(first)}, last ${JSON.stringify(last)}`);
      }
    }
  }

  // The first room event of `type` whose top-level fields equal those of `match`, waiting for it.
  async waitEvent(type, match, what) {
    const label = `${this.label}: ${what || type}`;
    try {
      const handle = await this.page.waitForFunction(
        ([t, m]) =>
          window.harness.events.find((e) => e.type === t && Object.keys(m).every((k) => e[k] === m[k])) || false,
        [type, match || {}],
        { timeout: EVENT_TIMEOUT_MS, polling: 50 },
      );
      const event = await handle.jsonValue();
      pass(label);
      return event;
    } catch (e) {
      if (e instanceof CheckFailed) {
        throw e;
      }
      const seen = await this.events().catch(() => []);
      throw new CheckFailed(
        `[${currentScenario}] ${label}: no '${type}' event ${JSON.stringify(match || {})} within ${EVENT_TIMEOUT_MS} ms; events so far: ${JSON.stringify(seen)}`,
      );
    }
  }

  async dump() {
    const lines = [`--- ${this.label}`];
    lines.push(`events: ${JSON.stringify(await this.events().catch(() => 'unavailable'))}`);
    for (const e of this.pageErrors) lines.push(`page error: ${e}`);
    for (const c of this.console) lines.push(`console ${c}`);
    for (const f of this.frames) lines.push(`ws ${f}`);
    return lines.join('\n');
  }
}

// ---------------------------------------------------------------------------------------------------
// Scenarios

function roomName(scenario) {
  return `${scenario}-${crypto.randomBytes(4).toString('hex')}`;
}

function subscribedSids(events) {
  return events.filter((e) => e.type === 'trackSubscribed').map((e) => e.trackSid);
}

const scenarios = {
  // Two pages publish camera and microphone; each receives the other's and media flows.
  async media_two(run) {
    const name = roomName('media-two');
    const a = await Client.open(run, 'A');
    const b = await Client.open(run, 'B');
    const ra = await a.connect('alice', name, { audio: true, video: { width: 320, height: 240 } });
    const rb = await b.connect('bob', name, { audio: true, video: { width: 320, height: 240 } });
    const aTracks = ra.localParticipant.tracks.map((t) => t.trackSid);
    const bTracks = rb.localParticipant.tracks.map((t) => t.trackSid);
    equal(aTracks.length + bTracks.length, 4, 'both publish a microphone and a camera');
    for (const [client, tracks, who] of [[a, bTracks, 'bob'], [b, aTracks, 'alice']]) {
      for (const sid of tracks) {
        await client.waitEvent('trackSubscribed', { trackSid: sid }, `subscribed to ${who}'s ${sid}`);
      }
      await client.mediaFlows(tracks, `receives ${who}'s audio and video`);
    }
  },


  // connect() through wsServer; what the SDK shows matches what REST reports; leaving is seen by REST.
  async connect(run) {
    const name = roomName('connect');
    const a = await Client.open(run, 'A');
    const room = await a.connect('alice', name);
    check(sidPattern('RM').test(room.sid), 'room.sid is an RM SID', room.sid);
    equal(room.name, name, 'room.name is the name asked for');
    equal(room.state, 'connected', 'room.state');
    check(sidPattern('PA').test(room.localParticipant.sid), 'localParticipant.sid is a PA SID', room.localParticipant.sid);
    equal(room.localParticipant.identity, 'alice', 'localParticipant.identity is the token identity');
    equal(room.participants.length, 0, 'nobody else in the room');

    const r = await rest('GET', `/v1/Rooms/${room.sid}`);
    equal(r.status, 200, 'REST fetches the room by SID');
    equal(r.body.unique_name, name, 'REST unique_name = room.name');
    equal(r.body.status, 'in-progress', 'REST room status');
    equal(room.mediaRegion, r.body.media_region, 'room.mediaRegion = REST media_region');
    const byName = await rest('GET', `/v1/Rooms/${encodeURIComponent(name)}`);
    equal(byName.body.sid, room.sid, 'REST fetches the same room by name');
    const p = await rest('GET', `/v1/Rooms/${room.sid}/Participants/${room.localParticipant.sid}`);
    equal(p.status, 200, 'REST fetches the participant');
    equal(p.body.identity, 'alice', 'REST participant identity');
    equal(p.body.status, 'connected', 'REST participant status');
    const list = await rest('GET', `/v1/Rooms/${room.sid}/Participants?Status=connected`);
    const sids = (list.body.participants || []).map((x) => x.sid);
    check(sids.length === 1 && sids[0] === room.localParticipant.sid, 'REST lists exactly the participant as connected', sids);

    await a.disconnect();
    const d = await a.waitEvent('disconnected', {}, "room.disconnect() emits 'disconnected'");
    equal(d.error, null, "'disconnected' carries no error");
    await expectParticipantStatus(room.sid, room.localParticipant.sid, 'disconnected', 'alice');
  },

  // Two pages: each sees the other come and go; REST agrees.
  async join_leave(run) {
    const name = roomName('join-leave');
    const a = await Client.open(run, 'A');
    const b = await Client.open(run, 'B');
    const ra = await a.connect('alice', name);
    const rb = await b.connect('bob', name);
    equal(rb.sid, ra.sid, 'both pages are in the same room');
    check(
      rb.participants.length === 1 && rb.participants[0].sid === ra.localParticipant.sid && rb.participants[0].identity === 'alice',
      "B's room.participants holds alice from the start",
      rb.participants,
    );
    const joined = await a.waitEvent('participantConnected', { identity: 'bob' }, "'participantConnected' for bob");
    equal(joined.sid, rb.localParticipant.sid, "the participant's SID is B's localParticipant.sid");
    const sa = await a.summary();
    equal(sa.participants.map((x) => x.identity).join(','), 'bob', "A's room.participants is [bob]");

    await b.disconnect();
    const bd = await b.waitEvent('disconnected', {}, "room emits 'disconnected'");
    equal(bd.error, null, "B's 'disconnected' carries no error");
    const left = await a.waitEvent('participantDisconnected', { identity: 'bob' }, "'participantDisconnected' for bob");
    equal(left.sid, rb.localParticipant.sid, 'the participant that left is B');
    await expectParticipantStatus(ra.sid, rb.localParticipant.sid, 'disconnected', 'bob');
    await expectParticipantStatus(ra.sid, ra.localParticipant.sid, 'connected', 'alice');
    equal((await a.summary()).state, 'connected', "A's room is still connected");
  },

  // A second page with the same identity takes over; the first one gets 53205.
  async duplicate_identity(run) {
    const name = roomName('duplicate');
    const first = await Client.open(run, 'A1');
    const second = await Client.open(run, 'A2');
    const r1 = await first.connect('alice', name);
    const r2 = await second.connect('alice', name);
    equal(r2.sid, r1.sid, 'both pages are in the same room');
    check(r2.localParticipant.sid !== r1.localParticipant.sid, 'the second page is a new participant', r2.localParticipant.sid);
    const d = await first.waitEvent('disconnected', {}, "room emits 'disconnected'");
    equal(d.error && d.error.code, 53205, "with error 53205 (duplicate identity)");
    await expectParticipantStatus(r1.sid, r1.localParticipant.sid, 'disconnected', 'the first alice');
    await expectParticipantStatus(r1.sid, r2.localParticipant.sid, 'connected', 'the second alice');
    equal((await second.summary()).state, 'connected', "the second page's room is still connected");
  },

  // REST ends the room: every page gets 53118.
  async room_completed(run) {
    const name = roomName('completed');
    const a = await Client.open(run, 'A');
    const b = await Client.open(run, 'B');
    const ra = await a.connect('alice', name);
    await b.connect('bob', name);
    await a.waitEvent('participantConnected', { identity: 'bob' }, "'participantConnected' for bob");
    const r = await rest('POST', `/v1/Rooms/${ra.sid}`, { Status: 'completed' });
    check(r.status === 200 || r.status === 202, 'REST Status=completed is accepted', r);
    equal(r.body.status, 'completed', 'REST answers with the completed room');
    for (const c of [a, b]) {
      const d = await c.waitEvent('disconnected', {}, "room emits 'disconnected'");
      equal(d.error && d.error.code, 53118, `${c.label}: with error 53118 (room completed)`);
    }
    const list = await rest('GET', `/v1/Rooms/${ra.sid}/Participants?Status=connected`);
    equal((list.body.participants || []).length, 0, 'REST lists no connected participants');
  },

  // REST removes one participant: its page gets 53204, the other page sees it leave.
  async kick(run) {
    const name = roomName('kick');
    const a = await Client.open(run, 'A');
    const b = await Client.open(run, 'B');
    const ra = await a.connect('alice', name);
    const rb = await b.connect('bob', name);
    await a.waitEvent('participantConnected', { identity: 'bob' }, "'participantConnected' for bob");
    const r = await rest('POST', `/v1/Rooms/${ra.sid}/Participants/${rb.localParticipant.sid}`, { Status: 'disconnected' });
    check(r.status === 200 || r.status === 202, 'REST Status=disconnected is accepted', r);
    equal(r.body.status, 'disconnected', 'REST answers with the disconnected participant');
    const d = await b.waitEvent('disconnected', {}, "room emits 'disconnected'");
    equal(d.error && d.error.code, 53204, 'with error 53204 (participant not found)');
    await a.waitEvent('participantDisconnected', { identity: 'bob' }, "'participantDisconnected' for bob");
    await expectParticipantStatus(ra.sid, ra.localParticipant.sid, 'connected', 'alice');
    equal((await a.summary()).state, 'connected', "A's room is still connected");
  },

  // Fake camera and microphone: the server's `published` acknowledgements give MT SIDs; the other
  // page learns of the tracks (present at join, then published and unpublished later). Media does not
  // flow yet, so subscriptions are not checked.
  async tracks(run) {
    const name = roomName('tracks');
    const a = await Client.open(run, 'A');
    const b = await Client.open(run, 'B');
    const rb = await b.connect('bob', name);
    equal(rb.participants.length, 0, 'B joined an empty room');
    const ra = await a.connect('alice', name, { audio: true, video: { width: 320, height: 240 } });
    const kinds = ra.localParticipant.tracks.map((t) => t.kind).sort().join(',');
    equal(kinds, 'audio,video', "A's localParticipant.tracks has its microphone and camera");
    for (const t of ra.localParticipant.tracks) {
      check(sidPattern('MT').test(t.trackSid), `A's ${t.kind} publication has an MT SID`, t.trackSid);
    }
    const mine = ra.localParticipant.tracks.map((t) => `${t.kind}:${t.trackSid}`).sort().join(',');
    const rest1 = await rest('GET', `/v1/Rooms/${ra.sid}/Participants/${ra.localParticipant.sid}/PublishedTracks`);
    const restSids = (rest1.body.published_tracks || []).map((t) => `${t.kind}:${t.sid}`).sort();
    equal(restSids.join(','), mine, 'REST PublishedTracks lists the same SIDs');

    // Tracks a participant joins with come with its participantConnected (no trackPublished events).
    const joined = await b.waitEvent('participantConnected', { identity: 'alice' }, "'participantConnected' for alice");
    equal(joined.tracks.map((t) => `${t.kind}:${t.trackSid}`).sort().join(','), mine, "alice arrives at B with A's publications");
    const c = await Client.open(run, 'C');
    const rc = await c.connect('carol', name);
    const alice = rc.participants.find((p) => p.identity === 'alice');
    check(!!alice, "C's room.participants holds alice from the start", rc.participants);
    equal(alice.tracks.map((t) => `${t.kind}:${t.trackSid}`).sort().join(','), mine, "C sees A's publications with the same SIDs and kinds");

    // A track published later is acknowledged to A and announced to the others.
    const pub = await a.publish('video', 'second-camera');
    check(pub && !pub.error && sidPattern('MT').test(pub.trackSid), 'A: publishTrack() resolves with an MT SID', pub);
    equal(pub.trackName, 'second-camera', 'the publication keeps its name');
    for (const other of [b, c]) {
      const seen = await other.waitEvent('trackPublished', { trackSid: pub.trackSid }, "'trackPublished' for the new track");
      equal(`${seen.participant}/${seen.kind}/${seen.trackName}`, 'alice/video/second-camera', `${other.label}: it is alice's second-camera video`);
    }
    await eventually('REST PublishedTracks lists it', async () => {
      const r = await rest('GET', `/v1/Rooms/${ra.sid}/Participants/${ra.localParticipant.sid}/PublishedTracks`);
      const listed = (r.body.published_tracks || []).map((t) => t.sid);
      return { ok: r.status === 200 && listed.length === 3 && listed.includes(pub.trackSid), seen: listed };
    });

    // Unpublishing it is announced too.
    const unpublished = await a.unpublish(pub.trackSid);
    check(unpublished === true, 'A: unpublishTrack()', unpublished);
    for (const other of [b, c]) {
      await other.waitEvent('trackUnpublished', { trackSid: pub.trackSid }, "'trackUnpublished' for it");
    }
    await eventually('REST PublishedTracks no longer lists it', async () => {
      const r = await rest('GET', `/v1/Rooms/${ra.sid}/Participants/${ra.localParticipant.sid}/PublishedTracks`);
      const listed = (r.body.published_tracks || []).map((t) => t.sid);
      return { ok: r.status === 200 && listed.length === 2 && !listed.includes(pub.trackSid), seen: listed };
    });
    for (const [client, label] of [[a, 'A'], [b, 'B'], [c, 'C']]) {
      equal((await client.summary()).state, 'connected', `${label}'s room is still connected`);
    }
  },

  // Refused tokens make connect() reject with the token error's code, and nobody joins.
  async bad_tokens(run) {
    const name = roomName('bad-tokens');
    const a = await Client.open(run, 'A');
    const cases = [
      ['signed with the wrong secret', token('alice', name, { secret: 'not-the-secret' }), 20107],
      ['expired', token('alice', name, { ttl: -3600 }), 20104],
      ['for another room', token('alice', `${name}-other`), 20106],
    ];
    for (const [what, t, code] of cases) {
      const r = await a.connectWith(t, name);
      equal(r && r.error && r.error.code, code, `a token ${what}: connect() rejects with ${code}`);
    }
    for (const status of ['in-progress', 'completed']) {
      const rooms = await rest('GET', `/v1/Rooms?UniqueName=${encodeURIComponent(name)}&Status=${status}`);
      check(rooms.status === 200 && rooms.body.rooms.length === 0, `REST: no ${status} room of that name`, rooms);
    }
  },

  // A page stays connected across several heartbeat periods, heartbeats flowing both ways. The Rust
  // test runs this one against a server offering a short heartbeat timeout.
  async heartbeats(run) {
    const name = roomName('heartbeats');
    const a = await Client.open(run, 'A');
    const ra = await a.connect('alice', name);
    await until(
      'A sent and received at least 4 heartbeats each',
      () => a.heartbeatsSent >= 4 && a.heartbeatsReceived >= 4,
      60000,
      () => `sent ${a.heartbeatsSent}, received ${a.heartbeatsReceived}`,
    );
    const events = (await a.events()).map((e) => e.type);
    check(!events.includes('reconnecting') && !events.includes('disconnected'), 'the room never reconnected nor disconnected', events);
    equal((await a.summary()).state, 'connected', "A's room is still connected");
    await expectParticipantStatus(ra.sid, ra.localParticipant.sid, 'connected', 'alice');
  },

  // The signaling connection breaks without a close handshake: the SDK resumes the session on a new
  // WebSocket (`sync`), keeps its room, participant and track SIDs, and the room goes on working.
  async reconnect(run) {
    const name = roomName('reconnect');
    const relay = await startRelay();
    run.cleanups.push(() => relay.close());
    const a = await Client.open(run, 'A');
    const b = await Client.open(run, 'B');
    const ra = await a.connect('alice', name, { wsServer: relay.url, audio: true });
    const rb = await b.connect('bob', name);
    await a.waitEvent('participantConnected', { identity: 'bob' }, "'participantConnected' for bob");
    const micSid = ra.localParticipant.tracks[0] && ra.localParticipant.tracks[0].trackSid;
    check(sidPattern('MT').test(micSid || ''), "A's microphone has an MT SID", micSid);

    const cut = relay.cut();
    check(cut >= 1, "A's signaling connection was cut", cut);
    const rec = await a.waitEvent('reconnecting', {}, "room emits 'reconnecting'");
    equal(rec.error && rec.error.code, 53001, 'with error 53001 (signaling connection disconnected)');
    await a.waitEvent('reconnected', {}, "room emits 'reconnected'");
    check(relay.accepted() >= 2, 'A opened a new WebSocket to resume', relay.accepted());

    const sa = await a.summary();
    equal(sa.sid, ra.sid, 'A is in the same room');
    equal(sa.localParticipant.sid, ra.localParticipant.sid, 'as the same participant');
    equal(sa.localParticipant.tracks.map((t) => t.trackSid).join(','), micSid, 'with the same microphone SID');
    equal(sa.participants.map((p) => p.sid).join(','), rb.localParticipant.sid, 'and still sees bob');
    await expectParticipantStatus(ra.sid, ra.localParticipant.sid, 'connected', 'alice');
    const bobView = (await b.summary()).participants.find((p) => p.identity === 'alice');
    check(bobView && bobView.sid === ra.localParticipant.sid, 'B still has alice', await b.events());

    // The resumed session works: publishing is acknowledged, and others come and go.
    const pub = await a.publish('video', 'after-resume');
    check(pub && !pub.error && sidPattern('MT').test(pub.trackSid), 'A: publishTrack() after resuming resolves with an MT SID', pub);
    await b.waitEvent('trackPublished', { trackSid: pub.trackSid }, "'trackPublished' for it");
    await b.disconnect();
    await a.waitEvent('participantDisconnected', { identity: 'bob' }, "'participantDisconnected' for bob");
    const events = (await a.events()).map((e) => e.type);
    check(!events.includes('disconnected'), 'A never disconnected', events);
    const left = (await b.events()).filter((e) => e.type === 'participantDisconnected' && e.identity === 'alice');
    equal(left.length, 0, 'B never saw alice leave');
  },
};

// ---------------------------------------------------------------------------------------------------
// Main

async function runScenario(browser, pageUrl, name) {
  currentScenario = name;
  const run = { browser, pageUrl, clients: [], offHost: [], cleanups: [] };
  try {
    await scenarios[name](run);
    const requests = run.clients.reduce((n, c) => n + c.requests.length, 0);
    const sockets = run.clients.reduce((n, c) => n + c.websockets.length, 0);
    check(run.offHost.length === 0, `all ${requests} requests and ${sockets} WebSockets stayed on 127.0.0.1`, run.offHost);
    const errors = run.clients.flatMap((c) => c.pageErrors.map((e) => `${c.label}: ${e}`));
    check(errors.length === 0, 'no uncaught errors in the pages', errors);
    if (process.env.VROOM_BROWSER_TRACE) {
      console.error((await Promise.all(run.clients.map((c) => c.dump()))).join('\n'));
    }
  } catch (e) {
    if (run.clients.length) {
      const dumps = await Promise.all(run.clients.map((c) => c.dump()));
      console.error(dumps.join('\n'));
    }
    throw e;
  } finally {
    await Promise.all(run.clients.map((c) => c.context.close().catch(() => {})));
    run.cleanups.forEach((f) => f());
  }
}

async function main() {
  const fromArgs = process.argv.slice(2);
  const fromEnv = (process.env.VROOM_SCENARIOS || '').split(',').map((s) => s.trim()).filter(Boolean);
  const wanted = fromArgs.length ? fromArgs : fromEnv.length ? fromEnv : Object.keys(scenarios);
  const unknown = wanted.filter((s) => !scenarios[s]);
  if (unknown.length) {
    console.error(`run.js: unknown scenario(s) ${unknown.join(', ')}; known: ${Object.keys(scenarios).join(', ')}`);
    process.exit(2);
  }
  if (!fs.existsSync(CHROMIUM)) {
    console.error(`run.js: ${CHROMIUM} is missing; run scripts/setup-test-deps`);
    process.exit(2);
  }

  const watchdog = setTimeout(() => {
    console.error(`FAIL [${currentScenario}] run.js did not finish within ${WATCHDOG_MS} ms`);
    process.exit(1);
  }, WATCHDOG_MS);
  watchdog.unref();

  const server = await startPageServer();
  const pageUrl = `http://127.0.0.1:${server.address().port}`;
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  console.log(`run.js: ${browser.version()} via playwright-core ${require('playwright-core/package.json').version}; vroom at ${BASE_URL}`);
  let failed = null;
  try {
    for (const name of wanted) {
      const started = Date.now();
      await runScenario(browser, pageUrl, name);
      console.log(`done [${name}] in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
  } catch (e) {
    failed = e;
  } finally {
    await browser.close().catch(() => {});
    server.close();
  }
  if (failed) {
    const message = failed instanceof CheckFailed ? failed.message : `[${currentScenario}] ${failed.stack || failed}`;
    console.log(`FAIL ${message}`);
    console.error(`FAIL ${message}`);
    process.exit(1);
  }
  console.log(`all ${wanted.length} scenario(s) passed`);
}

main().catch((e) => {
  console.error(`FAIL run.js crashed: ${e.stack || e}`);
  process.exit(1);
});
