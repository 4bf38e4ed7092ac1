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
// its WebSocket without a close handshake, as on a network failure. It can also hold back what the
// server sends (the client's frames still go through) and release it later, so a server message can
// be made to cross one from the client.
function startRelay() {
  const target = new URL(WS_URL);
  const pairs = new Set();
  let accepted = 0;
  // While holding: [socket, chunk] the server sent, in order. While holding up: what clients sent.
  let held = null;
  let heldUp = null;
  let refusing = false;
  const server = net.createServer((inbound) => {
    if (refusing) {
      inbound.resetAndDestroy();
      return;
    }
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
    inbound.on('data', (chunk) => {
      if (heldUp) {
        heldUp.push([outbound, chunk]);
      } else {
        outbound.write(chunk);
      }
    });
    outbound.on('data', (chunk) => {
      if (held) {
        held.push([inbound, chunk]);
      } else {
        inbound.write(chunk);
      }
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `ws://127.0.0.1:${server.address().port}${target.pathname}`,
        accepted: () => accepted,
        open: () => pairs.size,
        // Cuts every relayed connection: both sockets are reset, no WebSocket close frame is sent.
        // Whatever was held is dropped, and holding stops.
        cut() {
          const n = pairs.size;
          for (const [a, b] of pairs) {
            a.resetAndDestroy();
            b.resetAndDestroy();
          }
          pairs.clear();
          held = null;
          heldUp = null;
          return n;
        },
        // While refusing, new connections are closed at once (the client keeps retrying).
        refuse(on) {
          refusing = on;
        },
        // Holds back what the server sends from now on.
        hold() {
          held = held || [];
        },
        // Holds back what clients send from now on (until the next cut).
        holdUp() {
          heldUp = heldUp || [];
        },
        // What is held, as text (server frames are unmasked, so their JSON is readable).
        heldText: () => (held ? Buffer.concat(held.map(([, c]) => c)).toString('utf8') : ''),
        // Sends on what was held and stops holding.
        release() {
          const chunks = held || [];
          held = null;
          for (const [socket, chunk] of chunks) {
            if (!socket.destroyed) {
              socket.write(chunk);
            }
          }
          return chunks.length;
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

// Appends the RSP body of a TCMP frame (hello or msg) to `into`; other frames are skipped.
function rspBody(payload, into) {
  try {
    const frame = JSON.parse(String(payload));
    if (frame && frame.body && typeof frame.body === 'object') {
      into.push(frame.body);
    }
  } catch {
    // Not JSON: not ours to check.
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
    // RSP bodies (the `body` of TCMP hello/msg frames) in each direction, parsed.
    this.sent = [];
    this.received = [];
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
        rspBody(f.payload, client.sent);
        client.heartbeatsSent += isHeartbeat(f.payload) ? 1 : 0;
      });
      ws.on('framereceived', (f) => {
        client.frames.push(`<- ${String(f.payload).slice(0, FRAME_CHARS)}`);
        rspBody(f.payload, client.received);
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

  // The `seq` of the last room event so far (-1 when none), to wait for events after it.
  async lastSeq() {
    return this.page.evaluate(() => window.harness.events.length - 1);
  }

  publishData(name) {
    return this.page.evaluate((n) => window.harness.publishData(n), name);
  }

  // Waits until the page's own data channel for its data track is open.
  async dataOpen(what) {
    const label = `${this.label}: ${what}`;
    try {
      await this.page.waitForFunction(() => window.harness.dataOpen(), null, { timeout: EVENT_TIMEOUT_MS, polling: 50 });
    } catch {
      throw new CheckFailed(`[${currentScenario}] ${label}: not within ${EVENT_TIMEOUT_MS} ms`);
    }
    pass(label);
  }

  sendData(text, hex = false) {
    return this.page.evaluate(([t, h]) => window.harness.sendData(t, h), [text, hex]);
  }

  startPublish(name) {
    return this.page.evaluate((n) => window.harness.startPublish(n), name);
  }

  publishDone() {
    return this.page.evaluate(() => window.harness.publishDone());
  }

  offersCreated() {
    return this.page.evaluate(() => window.harness.offersCreated());
  }

  // Waits until the page's peer connections have created more than `n` offers.
  async offersBeyond(n, what) {
    const label = `${this.label}: ${what}`;
    try {
      await this.page.waitForFunction((k) => window.harness.offersCreated() > k, n, { timeout: EVENT_TIMEOUT_MS, polling: 50 });
    } catch {
      throw new CheckFailed(`[${currentScenario}] ${label}: not within ${EVENT_TIMEOUT_MS} ms`);
    }
    pass(label);
  }

  peerConnectionStates() {
    return this.page.evaluate(() => window.harness.peerConnectionStates());
  }

  // Waits until `sid` is no longer received: gone from the statistics, or its packet count unchanged
  // over a second. Returns the last statistics.
  async mediaStops(sid, what) {
    const label = `${this.label}: ${what}`;
    const deadline = Date.now() + EVENT_TIMEOUT_MS;
    let before = (await this.inbound())[sid];
    for (;;) {
      await new Promise((r) => setTimeout(r, 1000));
      const stats = await this.inbound();
      const now = stats[sid];
      if (!now || (before && now.packets === before.packets)) {
        pass(`${label} (${now ? `stuck at ${now.packets} packets` : 'gone from the statistics'})`);
        return stats;
      }
      if (Date.now() > deadline) {
        throw new CheckFailed(`[${currentScenario}] ${label}: still rising after ${EVENT_TIMEOUT_MS} ms: ${JSON.stringify(now)}`);
      }
      before = now;
    }
  }

  // The first room event of `type` whose top-level fields equal those of `match`, waiting for it;
  // with `after` (an event's `seq`), only events recorded after that one count.
  async waitEvent(type, match, what, after = -1) {
    const label = `${this.label}: ${what || type}`;
    try {
      const handle = await this.page.waitForFunction(
        ([t, m, a]) =>
          window.harness.events.find(
            (e) => e.seq > a && e.type === t && Object.keys(m).every((k) => e[k] === m[k]),
          ) || false,
        [type, match || {}, after],
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

// Fake camera and microphone.
const AV = { audio: true, video: { width: 320, height: 240 } };

// The SID of the local track of `kind` in a room summary.
function localSid(summary, kind) {
  const t = summary.localParticipant.tracks.find((x) => x.kind === kind);
  check(t && sidPattern('MT').test(t.trackSid), `${summary.localParticipant.identity}'s ${kind} has an MT SID`, summary.localParticipant.tracks);
  return t.trackSid;
}

// Waits until `client` is subscribed to each of `sids` (published by `who`) and receives media on them.
async function receives(client, sids, who, after = -1) {
  for (const sid of sids) {
    await client.waitEvent('trackSubscribed', { trackSid: sid }, `subscribed to ${who}'s ${sid}`, after);
  }
  return client.mediaFlows(sids, `receives ${who}'s ${sids.length === 1 ? 'track' : 'tracks'}`);
}

// REST: the SIDs of the tracks `participant` is subscribed to, sorted.
async function restSubscribed(roomSid, participantSid) {
  const r = await rest('GET', `/v1/Rooms/${roomSid}/Participants/${participantSid}/SubscribedTracks`);
  return { status: r.status, sids: (r.body.subscribed_tracks || []).map((t) => t.sid).sort() };
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

  // Three pages publish camera and microphone; each receives the other two's tracks and media flows
  // on all four.
  async media_three(run) {
    const name = roomName('media-three');
    const pages = [];
    for (const [label, identity] of [['A', 'alice'], ['B', 'bob'], ['C', 'carol']]) {
      const client = await Client.open(run, label);
      const summary = await client.connect(identity, name, AV);
      pages.push({ client, identity, tracks: [localSid(summary, 'audio'), localSid(summary, 'video')] });
    }
    for (const me of pages) {
      const others = pages.filter((p) => p !== me);
      for (const o of others) {
        for (const sid of o.tracks) {
          await me.client.waitEvent('trackSubscribed', { trackSid: sid, participant: o.identity }, `subscribed to ${o.identity}'s ${sid}`);
        }
      }
      await me.client.mediaFlows(others.flatMap((o) => o.tracks), `receives ${others.map((o) => o.identity).join("'s and ")}'s audio and video`);
    }
  },

  // A unpublishes its camera: B loses it (trackUnsubscribed, trackUnpublished) while A's microphone
  // keeps flowing; A then publishes a new camera mid-call and B receives it.
  async unpublish(run) {
    const name = roomName('unpublish');
    const a = await Client.open(run, 'A');
    const b = await Client.open(run, 'B');
    const ra = await a.connect('alice', name, AV);
    const rb = await b.connect('bob', name, AV);
    const [mic, cam] = [localSid(ra, 'audio'), localSid(ra, 'video')];
    await receives(b, [mic, cam], 'alice');
    await receives(a, [localSid(rb, 'audio'), localSid(rb, 'video')], 'bob');

    const before = await b.lastSeq();
    check((await a.unpublish(cam)) === true, 'A: unpublishTrack() on its camera');
    await b.waitEvent('trackUnsubscribed', { trackSid: cam, kind: 'video' }, "'trackUnsubscribed' for alice's camera", before);
    await b.waitEvent('trackUnpublished', { trackSid: cam, kind: 'video' }, "'trackUnpublished' for alice's camera", before);
    await b.mediaFlows([mic], "still receives alice's microphone");
    const still = (await b.summary()).participants.find((p) => p.identity === 'alice');
    equal(still && still.tracks.map((t) => t.trackSid).join(','), mic, "B's alice publishes only her microphone");

    const pub = await a.publish('video', 'new-camera');
    check(pub && !pub.error && sidPattern('MT').test(pub.trackSid) && pub.trackSid !== cam, 'A: publishTrack() of a new camera resolves with a new MT SID', pub);
    await b.waitEvent('trackPublished', { trackSid: pub.trackSid, kind: 'video' }, "'trackPublished' for the new camera", before);
    await b.waitEvent('trackSubscribed', { trackSid: pub.trackSid, kind: 'video' }, "'trackSubscribed' for the new camera", before);
    await b.mediaFlows([pub.trackSid, mic], "receives alice's new camera and her microphone");
    await a.mediaFlows([localSid(rb, 'audio'), localSid(rb, 'video')], "still receives bob's audio and video");

    // A second camera finds no free video transceiver of A's own: twilio-video.js recycles the one
    // the server made to send bob's camera (it becomes sendrecv). Both directions must keep working.
    const second = await a.publish('video', 'second-camera');
    check(second && !second.error && sidPattern('MT').test(second.trackSid), 'A: publishTrack() of a second camera resolves with an MT SID', second);
    await b.waitEvent('trackSubscribed', { trackSid: second.trackSid, kind: 'video' }, "'trackSubscribed' for the second camera", before);
    await b.mediaFlows([second.trackSid, pub.trackSid, mic], "receives both of alice's cameras and her microphone");
    await a.mediaFlows([localSid(rb, 'audio'), localSid(rb, 'video')], "still receives bob's audio and video");

    // Unpublishing the camera on the recycled m-line leaves bob's camera flowing to A on it.
    const seq = await b.lastSeq();
    check((await a.unpublish(second.trackSid)) === true, 'A: unpublishTrack() on the second camera');
    await b.waitEvent('trackUnsubscribed', { trackSid: second.trackSid }, "'trackUnsubscribed' for the second camera", seq);
    await b.waitEvent('trackUnpublished', { trackSid: second.trackSid }, "'trackUnpublished' for the second camera", seq);
    await b.mediaFlows([pub.trackSid, mic], "still receives alice's new camera and her microphone");
    await a.mediaFlows([localSid(rb, 'audio'), localSid(rb, 'video')], "still receives bob's audio and video");
    const lost = (await a.events()).filter((e) => e.type === 'trackUnsubscribed');
    equal(lost.length, 0, 'A never lost a track of bob');
  },

  // C leaves: A and B see it go (participantDisconnected, trackUnsubscribed for its tracks) and keep
  // receiving each other.
  async leave(run) {
    const name = roomName('leave');
    const a = await Client.open(run, 'A');
    const b = await Client.open(run, 'B');
    const c = await Client.open(run, 'C');
    const ra = await a.connect('alice', name, AV);
    const rb = await b.connect('bob', name, AV);
    const rc = await c.connect('carol', name, AV);
    const [aTracks, bTracks, cTracks] = [ra, rb, rc].map((r) => [localSid(r, 'audio'), localSid(r, 'video')]);
    await receives(a, [...bTracks, ...cTracks], 'bob and carol');
    await receives(b, [...aTracks, ...cTracks], 'alice and carol');

    const seqs = [await a.lastSeq(), await b.lastSeq()];
    await c.disconnect();
    const d = await c.waitEvent('disconnected', {}, "room.disconnect() emits 'disconnected'");
    equal(d.error, null, "C's 'disconnected' carries no error");
    for (const [client, after] of [[a, seqs[0]], [b, seqs[1]]]) {
      await client.waitEvent('participantDisconnected', { identity: 'carol', sid: rc.localParticipant.sid }, "'participantDisconnected' for carol", after);
      for (const sid of cTracks) {
        await client.waitEvent('trackUnsubscribed', { trackSid: sid, participant: 'carol' }, `'trackUnsubscribed' for carol's ${sid}`, after);
      }
    }
    await a.mediaFlows(bTracks, "still receives bob's audio and video");
    await b.mediaFlows(aTracks, "still receives alice's audio and video");
    await expectParticipantStatus(ra.sid, rc.localParticipant.sid, 'disconnected', 'carol');
    for (const client of [a, b]) {
      equal((await client.summary()).participants.map((p) => p.identity).sort().join(','), client === a ? 'bob' : 'alice', `${client.label}'s room.participants no longer holds carol`);
    }
  },

  // REST removes B while media flows: B's page gets 53204, A sees B and its tracks go.
  async kick_media(run) {
    const name = roomName('kick-media');
    const a = await Client.open(run, 'A');
    const b = await Client.open(run, 'B');
    const ra = await a.connect('alice', name, AV);
    const rb = await b.connect('bob', name, AV);
    const bTracks = [localSid(rb, 'audio'), localSid(rb, 'video')];
    await receives(a, bTracks, 'bob');
    await receives(b, [localSid(ra, 'audio'), localSid(ra, 'video')], 'alice');

    const r = await rest('POST', `/v1/Rooms/${ra.sid}/Participants/${rb.localParticipant.sid}`, { Status: 'disconnected' });
    check(r.status === 200 || r.status === 202, 'REST Status=disconnected is accepted', r);
    const d = await b.waitEvent('disconnected', {}, "room emits 'disconnected'");
    equal(d.error && d.error.code, 53204, 'with error 53204 (participant not found)');
    await a.waitEvent('participantDisconnected', { identity: 'bob' }, "'participantDisconnected' for bob");
    for (const sid of bTracks) {
      await a.waitEvent('trackUnsubscribed', { trackSid: sid, participant: 'bob' }, `'trackUnsubscribed' for bob's ${sid}`);
    }
    await expectParticipantStatus(ra.sid, rb.localParticipant.sid, 'disconnected', 'bob');
    equal((await a.summary()).state, 'connected', "A's room is still connected");
  },

  // A second alice takes over while media flows: the first gets 53205; bob sees the swap and receives
  // the newcomer's media, and the newcomer receives bob's.
  async duplicate_identity_media(run) {
    const name = roomName('duplicate-media');
    const first = await Client.open(run, 'A1');
    const b = await Client.open(run, 'B');
    const r1 = await first.connect('alice', name, AV);
    const rb = await b.connect('bob', name, AV);
    const bTracks = [localSid(rb, 'audio'), localSid(rb, 'video')];
    await receives(b, [localSid(r1, 'audio'), localSid(r1, 'video')], 'the first alice');
    await receives(first, bTracks, 'bob');

    const after = await b.lastSeq();
    const second = await Client.open(run, 'A2');
    const r2 = await second.connect('alice', name, AV);
    equal(r2.sid, r1.sid, 'the second alice is in the same room');
    const d = await first.waitEvent('disconnected', {}, "room emits 'disconnected'");
    equal(d.error && d.error.code, 53205, 'with error 53205 (duplicate identity)');
    await b.waitEvent('participantDisconnected', { sid: r1.localParticipant.sid }, "'participantDisconnected' for the first alice", after);
    await b.waitEvent('participantConnected', { sid: r2.localParticipant.sid, identity: 'alice' }, "'participantConnected' for the second alice", after);
    await receives(b, [localSid(r2, 'audio'), localSid(r2, 'video')], 'the second alice', after);
    await receives(second, bTracks, 'bob');
    const alices = (await b.summary()).participants.map((p) => p.sid);
    equal(alices.join(','), r2.localParticipant.sid, "B's room.participants holds only the second alice");
  },

  // REST ends a room while media flows: every page gets 53118.
  async room_completed_media(run) {
    const name = roomName('completed-media');
    const a = await Client.open(run, 'A');
    const b = await Client.open(run, 'B');
    const ra = await a.connect('alice', name, AV);
    const rb = await b.connect('bob', name, AV);
    await receives(a, [localSid(rb, 'audio'), localSid(rb, 'video')], 'bob');
    await receives(b, [localSid(ra, 'audio'), localSid(ra, 'video')], 'alice');
    const r = await rest('POST', `/v1/Rooms/${ra.sid}`, { Status: 'completed' });
    check(r.status === 200 || r.status === 202, 'REST Status=completed is accepted', r);
    for (const c of [a, b]) {
      const d = await c.waitEvent('disconnected', {}, "room emits 'disconnected'");
      equal(d.error && d.error.code, 53118, `${c.label}: with error 53118 (room completed)`);
    }
  },

  // A publishes a data track: B subscribes to it (kind data) and receives what A sends, in order.
  async data_track(run) {
    const name = roomName('data-track');
    const a = await Client.open(run, 'A');
    const b = await Client.open(run, 'B');
    const ra = await a.connect('alice', name, { audio: true });
    await b.connect('bob', name, { audio: true });
    await receives(b, [localSid(ra, 'audio')], 'alice');

    const pub = await a.publishData('chat');
    check(pub && !pub.error && sidPattern('MT').test(pub.trackSid) && pub.kind === 'data', 'A: publishTrack(LocalDataTrack) resolves with an MT SID', pub);
    const seen = await b.waitEvent('trackPublished', { trackSid: pub.trackSid }, "'trackPublished' for the data track");
    equal(`${seen.kind}/${seen.trackName}`, 'data/chat', "it is alice's data track 'chat'");
    await b.waitEvent('trackSubscribed', { trackSid: pub.trackSid, kind: 'data', participant: 'alice' }, "'trackSubscribed' for it, kind data");
    await a.dataOpen("A's data channel is open");
    // Text, then binary (as hex here), then text again.
    const texts = [['hello bob', false], ['ünïcödé ✓', false], ['00ff10fe', true], [JSON.stringify({ n: 3, list: [1, 2] }), false]];
    for (const [t, hex] of texts) {
      await a.sendData(t, hex);
    }
    const messages = [];
    for (const [t, hex] of texts) {
      const m = await b.waitEvent('trackMessage', { data: t, binary: hex }, `'trackMessage' ${hex ? `with the bytes ${t}` : JSON.stringify(t)}`);
      messages.push(m);
    }
    check(messages.every((m) => m.participant === 'alice' && m.trackSid === pub.trackSid), "every message comes from alice's data track", messages);
    const order = messages.map((m) => m.seq);
    check(order.every((x, i) => i === 0 || x > order[i - 1]), 'in the order sent', order);
    const all = (await b.events()).filter((e) => e.type === 'trackMessage');
    equal(all.length, texts.length, 'nothing else arrived');
    equal((await a.events()).filter((e) => e.type === 'trackMessage').length, 0, 'A does not receive its own messages');

    // C joins after the data track exists: it is subscribed in C's first server offer, and a message
    // reaches both B and C.
    const c = await Client.open(run, 'C');
    await c.connect('carol', name);
    await c.waitEvent('trackSubscribed', { trackSid: pub.trackSid, kind: 'data', participant: 'alice' }, "'trackSubscribed' for alice's data track");
    await a.sendData('hello carol');
    for (const client of [b, c]) {
      const m = await client.waitEvent('trackMessage', { data: 'hello carol' }, "'trackMessage' \"hello carol\"");
      equal(m.trackSid, pub.trackSid, `${client.label}: on alice's data track`);
    }

    // Unpublished, the data track leaves both; a new one (a channel on the existing association,
    // no renegotiation towards them) reaches both.
    const seqs = [await b.lastSeq(), await c.lastSeq()];
    check((await a.unpublish(pub.trackSid)) === true, 'A: unpublishTrack() on the data track');
    for (const [client, after] of [[b, seqs[0]], [c, seqs[1]]]) {
      await client.waitEvent('trackUnsubscribed', { trackSid: pub.trackSid, kind: 'data' }, "'trackUnsubscribed' for the data track", after);
      await client.waitEvent('trackUnpublished', { trackSid: pub.trackSid, kind: 'data' }, "'trackUnpublished' for the data track", after);
    }
    const next = await a.publishData('chat-2');
    check(next && !next.error && sidPattern('MT').test(next.trackSid) && next.trackSid !== pub.trackSid, 'A: a second data track gets a new MT SID', next);
    for (const [client, after] of [[b, seqs[0]], [c, seqs[1]]]) {
      await client.waitEvent('trackSubscribed', { trackSid: next.trackSid, kind: 'data' }, "'trackSubscribed' for the second data track", after);
    }
    await a.dataOpen("A's second data channel is open");
    await a.sendData('second track');
    for (const client of [b, c]) {
      const m = await client.waitEvent('trackMessage', { data: 'second track' }, "'trackMessage' \"second track\"");
      equal(m.trackSid, next.trackSid, `${client.label}: on alice's second data track`);
    }
  },

  // REST subscribe rules: excluding video stops bob's camera reaching A (its audio goes on), and
  // including everything again brings it back. SubscribedTracks follows each state.
  async subscribe_rules(run) {
    const name = roomName('subscribe-rules');
    const a = await Client.open(run, 'A');
    const b = await Client.open(run, 'B');
    const ra = await a.connect('alice', name, AV);
    const rb = await b.connect('bob', name, AV);
    const [mic, cam] = [localSid(rb, 'audio'), localSid(rb, 'video')];
    const me = ra.localParticipant.sid;
    await receives(a, [mic, cam], 'bob');
    await eventually('REST SubscribedTracks of A lists bob\'s microphone and camera', async () => {
      const r = await restSubscribed(ra.sid, me);
      return { ok: r.status === 200 && r.sids.join(',') === [mic, cam].sort().join(','), seen: r };
    });

    const rulesUrl = `/v1/Rooms/${ra.sid}/Participants/${me}/SubscribeRules`;
    let after = await a.lastSeq();
    const noVideo = await rest('POST', rulesUrl, { Rules: JSON.stringify([{ type: 'include', all: true }, { type: 'exclude', kind: 'video' }]) });
    equal(noVideo.status, 200, 'REST POST SubscribeRules excluding video is accepted');
    await a.waitEvent('trackUnsubscribed', { trackSid: cam, participant: 'bob' }, "'trackUnsubscribed' for bob's camera", after);
    await a.mediaStops(cam, "bob's camera is no longer received");
    const stopped = (await a.inbound())[cam];
    await a.mediaFlows([mic], "bob's microphone keeps rising");
    const later = (await a.inbound())[cam];
    check(!later || (stopped && later.packets === stopped.packets), "and bob's camera stayed stopped meanwhile", { stopped, later });
    let events = (await a.events()).filter((e) => e.seq > after && e.trackSid === mic && e.type === 'trackUnsubscribed');
    equal(events.length, 0, "A was never unsubscribed from bob's microphone");
    await eventually('REST SubscribedTracks of A lists only the microphone', async () => {
      const r = await restSubscribed(ra.sid, me);
      return { ok: r.status === 200 && r.sids.join(',') === mic, seen: r };
    });
    const fetched = await rest('GET', rulesUrl);
    equal(JSON.stringify(fetched.body.rules), JSON.stringify([{ type: 'include', all: true }, { type: 'exclude', kind: 'video' }]), 'REST GET SubscribeRules shows the rules');

    after = await a.lastSeq();
    const all = await rest('POST', rulesUrl, { Rules: JSON.stringify([{ type: 'include', all: true }]) });
    equal(all.status, 200, 'REST POST SubscribeRules including everything is accepted');
    await a.waitEvent('trackSubscribed', { trackSid: cam, participant: 'bob' }, "'trackSubscribed' for bob's camera again", after);
    await a.mediaFlows([cam, mic], "receives bob's camera again, and his microphone");
    events = (await a.events()).filter((e) => e.seq > after && e.type === 'trackUnsubscribed');
    equal(events.length, 0, 'nothing was unsubscribed meanwhile');
    await eventually('REST SubscribedTracks of A lists both again', async () => {
      const r = await restSubscribed(ra.sid, me);
      return { ok: r.status === 200 && r.sids.join(',') === [mic, cam].sort().join(','), seen: r };
    });
    await b.mediaFlows([localSid(ra, 'audio'), localSid(ra, 'video')], "B received alice's tracks all along");

    // Excluding and at once including video again: whatever A saw in between, it ends up receiving
    // bob's camera.
    after = await a.lastSeq();
    const [off, on] = [
      await rest('POST', rulesUrl, { Rules: JSON.stringify([{ type: 'include', all: true }, { type: 'exclude', kind: 'video' }]) }),
      await rest('POST', rulesUrl, { Rules: JSON.stringify([{ type: 'include', all: true }]) }),
    ];
    check(off.status === 200 && on.status === 200, 'REST: both rule changes are accepted back to back', [off.status, on.status]);
    await a.mediaFlows([cam, mic], "receives bob's camera and microphone after the flip");
    const flips = (await a.events()).filter((e) => e.seq > after && e.trackSid === cam).map((e) => e.type);
    check(flips.length === 0 || (flips.length === 2 && flips[0] === 'trackUnsubscribed' && flips[1] === 'trackSubscribed'), "A saw nothing, or bob's camera go and come back", flips);
    const current = (await a.summary()).participants.find((p) => p.identity === 'bob');
    check(current && current.tracks.length === 2, 'A still has both of bob\'s publications', current);
  },

  // A's signaling connection is cut while media flows: A resumes on a new WebSocket, the server keeps
  // its peer connection (listed in `synced`), media goes on both ways, and a track A publishes after
  // resuming reaches B.
  async reconnect_media(run) {
    const name = roomName('reconnect-media');
    const relay = await startRelay();
    run.cleanups.push(() => relay.close());
    const a = await Client.open(run, 'A');
    const b = await Client.open(run, 'B');
    const ra = await a.connect('alice', name, Object.assign({ wsServer: relay.url }, AV));
    const rb = await b.connect('bob', name, AV);
    const [aTracks, bTracks] = [ra, rb].map((r) => [localSid(r, 'audio'), localSid(r, 'video')]);
    await receives(a, bTracks, 'bob');
    await receives(b, aTracks, 'alice');
    const connect = a.sent.find((m) => m.type === 'connect');
    const pcIds = ((connect && connect.peer_connections) || []).map((p) => p.id).filter(Boolean);
    check(pcIds.length === 1, "A's connect offered one peer connection", connect && connect.peer_connections);
    const pcsBefore = await a.peerConnectionStates();

    const received = a.received.length;
    check(relay.cut() >= 1, "A's signaling connection was cut");
    await a.waitEvent('reconnecting', {}, "room emits 'reconnecting'");
    await a.waitEvent('reconnected', {}, "room emits 'reconnected'");
    const synced = a.received.slice(received).find((m) => m.type === 'synced');
    check(!!synced, "A received 'synced'", a.received.slice(received).map((m) => m.type));
    const kept = (synced.peer_connections || []).map((p) => p.id);
    check(kept.includes(pcIds[0]), "'synced' lists A's peer connection", synced.peer_connections);
    const pcsAfter = await a.peerConnectionStates();
    equal(pcsAfter.length, pcsBefore.length, 'A made no new peer connection');
    check(pcsAfter.every((st) => st === 'connected'), "A's peer connections are still connected", pcsAfter);
    const aliceEvents = (await b.events()).filter((e) => e.participant === 'alice' && e.type === 'trackUnsubscribed');
    equal(aliceEvents.length, 0, "B never lost alice's tracks");

    await a.mediaFlows(bTracks, "receives bob's audio and video after resuming");
    await b.mediaFlows(aTracks, "receives alice's audio and video after A resumed");
    const pub = await a.publish('video', 'after-resume');
    check(pub && !pub.error && sidPattern('MT').test(pub.trackSid), 'A: publishTrack() after resuming resolves with an MT SID', pub);
    await receives(b, [pub.trackSid], 'alice');

    // A server offer lost with the connection: C joins while the server's messages to A are held
    // back, then A's connection is cut. `synced` carries the offer A never saw; A answers it and
    // receives carol.
    relay.hold();
    const c = await Client.open(run, 'C');
    const rc = await c.connect('carol', name, AV);
    const cTracks = [localSid(rc, 'audio'), localSid(rc, 'video')];
    await until("the server's offer of carol's tracks to A is held back", () => relay.heldText().includes('"offer"'), EVENT_TIMEOUT_MS);
    const seq = await a.lastSeq();
    const [sent2, received2] = [a.sent.length, a.received.length];
    check(relay.cut() >= 1, "A's signaling connection was cut again, the offer with it");
    await a.waitEvent('reconnected', {}, "room emits 'reconnected' again", seq);
    const synced2 = a.received.slice(received2).find((m) => m.type === 'synced');
    const entry = synced2 && (synced2.peer_connections || []).find((p) => p.id === pcIds[0]);
    check(entry && entry.description && entry.description.type === 'offer', "'synced' carries the server's unanswered offer", synced2 && synced2.peer_connections);
    await until(
      'A answers it with the same revision',
      () =>
        a.sent
          .slice(sent2)
          .some((m) => (m.peer_connections || []).some((p) => p.id === pcIds[0] && p.description && p.description.type === 'answer' && p.description.revision === entry.description.revision)),
      EVENT_TIMEOUT_MS,
    );
    await receives(a, cTracks, 'carol');
    await receives(c, [...aTracks, pub.trackSid], 'alice');
    equal((await a.peerConnectionStates()).join(','), pcsBefore.join(','), 'A still has its one connected peer connection');

    // A publishes while it cannot reach the server: its `sync` carries the offer, `synced` the answer.
    relay.refuse(true);
    const seq3 = await a.lastSeq();
    const [sent3, received3] = [a.sent.length, a.received.length];
    check(relay.cut() >= 1, "A's signaling connection was cut a third time, and A cannot reconnect for now");
    await a.waitEvent('reconnecting', {}, "room emits 'reconnecting'", seq3);
    const offers = await a.offersCreated();
    await a.startPublish('while-away');
    await a.offersBeyond(offers, 'created an offer for its new camera while disconnected');
    relay.refuse(false);
    await a.waitEvent('reconnected', {}, "room emits 'reconnected' again", seq3);
    const sync3 = a.sent.slice(sent3).find((m) => m.type === 'sync');
    const offered = sync3 && (sync3.peer_connections || []).find((p) => p.id === pcIds[0]);
    check(offered && offered.description && offered.description.type === 'offer', "A's 'sync' carries its offer", sync3 && sync3.peer_connections);
    const synced3 = a.received.slice(received3).find((m) => m.type === 'synced');
    const answered = synced3 && (synced3.peer_connections || []).find((p) => p.id === pcIds[0]);
    check(answered && answered.description && answered.description.type === 'answer' && answered.description.revision === offered.description.revision, "'synced' answers it with the same revision", synced3 && synced3.peer_connections);
    const away = await a.publishDone();
    check(away && !away.error && sidPattern('MT').test(away.trackSid), 'A: publishTrack() resolves with an MT SID', away);
    for (const other of [b, c]) {
      await receives(other, [away.trackSid], 'alice');
    }
    await a.mediaFlows([...bTracks, ...cTracks], "still receives bob's and carol's audio and video");
    const events = (await a.events()).map((e) => e.type);
    check(!events.includes('disconnected'), 'A never disconnected', events);
  },

  // The server's answer to A's offer is lost with the connection: A's `sync` repeats the offer the
  // server already applied, and `synced` must answer it again, or A's new camera never goes out.
  async reconnect_lost_answer(run) {
    const name = roomName('lost-answer');
    const relay = await startRelay();
    run.cleanups.push(() => relay.close());
    const a = await Client.open(run, 'A');
    const b = await Client.open(run, 'B');
    const ra = await a.connect('alice', name, Object.assign({ wsServer: relay.url }, AV));
    const rb = await b.connect('bob', name, AV);
    const [aTracks, bTracks] = [ra, rb].map((r) => [localSid(r, 'audio'), localSid(r, 'video')]);
    await receives(a, bTracks, 'bob');
    await receives(b, aTracks, 'alice');
    const pcId = a.sent.find((m) => m.type === 'connect').peer_connections[0].id;

    relay.hold();
    const [sent, received, seq] = [a.sent.length, a.received.length, await a.lastSeq()];
    await a.startPublish('lost-answer');
    const offerOf = (m) => (m.peer_connections || []).find((p) => p.id === pcId && p.description && p.description.type === 'offer');
    await until('A sends an offer for a new camera', () => a.sent.slice(sent).some(offerOf), EVENT_TIMEOUT_MS);
    const offered = offerOf(a.sent.slice(sent).find(offerOf)).description.revision;
    await until("the server's answer is held back", () => relay.heldText().includes('"answer"'), EVENT_TIMEOUT_MS);
    check(relay.cut() >= 1, "A's signaling connection was cut, the answer with it");
    await a.waitEvent('reconnected', {}, "room emits 'reconnected'", seq);
    const sync = a.sent.slice(sent).find((m) => m.type === 'sync');
    const again = sync && offerOf(sync);
    check(again && again.description.revision === offered, "A's 'sync' repeats its offer", sync && sync.peer_connections);
    const synced = a.received.slice(received).find((m) => m.type === 'synced');
    const entry = synced && (synced.peer_connections || []).find((p) => p.id === pcId);
    check(entry && entry.description && entry.description.type === 'answer' && entry.description.revision === offered, "'synced' answers it again", synced && synced.peer_connections);
    const pub = await a.publishDone();
    check(pub && !pub.error && sidPattern('MT').test(pub.trackSid), 'A: publishTrack() resolves with an MT SID', pub);
    await receives(b, [pub.trackSid], 'alice');
    await b.mediaFlows(aTracks, "still receives alice's microphone and first camera");
    await a.mediaFlows(bTracks, "still receives bob's audio and video");

    // The other way round: A's answer to a server offer (carol's tracks) is lost. A's `sync` carries
    // it, and the server applies it.
    relay.holdUp();
    const [sent2, seq2] = [a.sent.length, await a.lastSeq()];
    const c = await Client.open(run, 'C');
    const rc = await c.connect('carol', name, AV);
    const answerOf = (m) => (m.peer_connections || []).find((p) => p.id === pcId && p.description && p.description.type === 'answer');
    await until("A answers the server's offer of carol's tracks (held back)", () => a.sent.slice(sent2).some(answerOf), EVENT_TIMEOUT_MS);
    const answered = answerOf(a.sent.slice(sent2).find(answerOf)).description.revision;
    check(relay.cut() >= 1, "A's signaling connection was cut, its answer with it");
    await a.waitEvent('reconnected', {}, "room emits 'reconnected' again", seq2);
    const sync2 = a.sent.slice(sent2).find((m) => m.type === 'sync');
    const carried = sync2 && answerOf(sync2);
    check(carried && carried.description.revision === answered, "A's 'sync' carries its answer", sync2 && sync2.peer_connections);
    await receives(a, [localSid(rc, 'audio'), localSid(rc, 'video')], 'carol');
    await receives(c, [...aTracks, pub.trackSid], 'alice');
  },

  // Both the server's answer to A's offer (a new camera) and the server's next offer (carol's tracks)
  // are lost with the connection. A's `sync` repeats its offer, which crosses the server's pending
  // one: `synced` carries the server's offer, A rolls its own back, answers and offers again.
  async reconnect_lost_answer_and_offer(run) {
    const name = roomName('lost-both');
    const relay = await startRelay();
    run.cleanups.push(() => relay.close());
    const a = await Client.open(run, 'A');
    const b = await Client.open(run, 'B');
    const ra = await a.connect('alice', name, Object.assign({ wsServer: relay.url }, AV));
    const rb = await b.connect('bob', name, AV);
    const [aTracks, bTracks] = [ra, rb].map((r) => [localSid(r, 'audio'), localSid(r, 'video')]);
    await receives(a, bTracks, 'bob');
    await receives(b, aTracks, 'alice');
    const pcId = a.sent.find((m) => m.type === 'connect').peer_connections[0].id;

    relay.hold();
    const [sent, received, seq] = [a.sent.length, a.received.length, await a.lastSeq()];
    await a.startPublish('lost-both');
    await until("the server's answer to A's offer is held back", () => relay.heldText().includes('"answer"'), EVENT_TIMEOUT_MS);
    const c = await Client.open(run, 'C');
    const rc = await c.connect('carol', name, AV);
    await until("the server's offer of carol's tracks is held back too", () => relay.heldText().includes('"offer"'), EVENT_TIMEOUT_MS);
    check(relay.cut() >= 1, "A's signaling connection was cut, both with it");
    await a.waitEvent('reconnected', {}, "room emits 'reconnected'", seq);
    const synced = a.received.slice(received).find((m) => m.type === 'synced');
    const entry = synced && (synced.peer_connections || []).find((p) => p.id === pcId);
    check(entry && entry.description && entry.description.type === 'offer', "'synced' carries the server's pending offer", synced && synced.peer_connections);
    const descriptions = (type) =>
      a.sent.slice(sent).flatMap((m) => (m.peer_connections || []).filter((p) => p.id === pcId && p.description && p.description.type === type).map((p) => p.description.revision));
    await until('A answers it and offers again one revision later', () => descriptions('answer').includes(entry.description.revision) && descriptions('offer').includes(entry.description.revision + 1), EVENT_TIMEOUT_MS);
    const pub = await a.publishDone();
    check(pub && !pub.error && sidPattern('MT').test(pub.trackSid), 'A: publishTrack() resolves with an MT SID', pub);
    await receives(a, [localSid(rc, 'audio'), localSid(rc, 'video')], 'carol');
    await receives(b, [pub.trackSid], 'alice');
    await receives(c, [...aTracks, pub.trackSid], 'alice');
    await b.mediaFlows(aTracks, "still receives alice's microphone and first camera");
  },

  // Glare: the server's offer (carol's tracks for A) crosses A's own offer (a new camera). A rolls
  // back, answers the server's offer and offers again one revision later; everything gets through.
  async glare(run) {
    const name = roomName('glare');
    const relay = await startRelay();
    run.cleanups.push(() => relay.close());
    const a = await Client.open(run, 'A');
    const b = await Client.open(run, 'B');
    const ra = await a.connect('alice', name, Object.assign({ wsServer: relay.url }, AV));
    const rb = await b.connect('bob', name, AV);
    const [aTracks, bTracks] = [ra, rb].map((r) => [localSid(r, 'audio'), localSid(r, 'video')]);
    await receives(a, bTracks, 'bob');
    await receives(b, aTracks, 'alice');

    relay.hold();
    const c = await Client.open(run, 'C');
    const rc = await c.connect('carol', name, AV);
    const cTracks = [localSid(rc, 'audio'), localSid(rc, 'video')];
    await until("the server's offer of carol's tracks to A is held back", () => relay.heldText().includes('"offer"'), EVENT_TIMEOUT_MS);
    const sent = a.sent.length;
    const received = a.received.length;
    const publishing = a.publish('video', 'crossing');
    const offersFrom = (list, type) =>
      list.flatMap((m) => (m.peer_connections || []).filter((p) => p.description && p.description.type === type).map((p) => p.description.revision));
    await until('A sends an offer for its new camera meanwhile', () => offersFrom(a.sent.slice(sent), 'offer').length > 0, EVENT_TIMEOUT_MS);
    check(relay.release() > 0, "the server's messages to A go on");
    const pub = await publishing;
    check(pub && !pub.error && sidPattern('MT').test(pub.trackSid), 'A: publishTrack() resolves with an MT SID', pub);

    await receives(a, cTracks, 'carol');
    for (const other of [b, c]) {
      await receives(other, [pub.trackSid], 'alice');
    }
    await b.mediaFlows(aTracks, "still receives alice's microphone and first camera");
    const serverOffer = offersFrom(a.received.slice(received), 'offer')[0];
    const clientOffers = offersFrom(a.sent.slice(sent), 'offer');
    const answers = offersFrom(a.sent.slice(sent), 'answer');
    equal(clientOffers[0], serverOffer, "A's offer crossed the server's (same revision)");
    check(answers.includes(serverOffer), "A answered the server's offer", answers);
    check(clientOffers.includes(serverOffer + 1), 'and offered again one revision later', clientOffers);
    check(offersFrom(a.received.slice(received), 'answer').includes(serverOffer + 1), 'which the server answered', offersFrom(a.received.slice(received), 'answer'));
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
