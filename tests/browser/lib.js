// The harness of the browser tests: the servers to test, the scenario context, checks, access
// tokens, REST, the page server, the signaling relay, and `Client` (one browser context and page
// running twilio-video.js). Scenarios are in scenarios-*.js; run.js runs them (its header says how to
// add one).
//
// Several scenarios run at once in one Node process, so nothing here may keep "the current scenario"
// in a module variable: each scenario runs inside an AsyncLocalStorage context holding its `run`
// (name, server, log, pages), and the free functions below (`check`, `rest`, `token`, …) find it
// there. That keeps scenarios reading as plain sequential scripts.

'use strict';

const { AsyncLocalStorage } = require('node:async_hooks');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const jwt = require('jsonwebtoken');

const EVENT_TIMEOUT_MS = 20000;
const REST_TIMEOUT_MS = 10000;
const FRAME_CHARS = process.env.VROOM_BROWSER_TRACE ? 100000 : 400;
const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);
// The hosts of the vroom servers under test (loadServers adds them): netns.js's server is on a
// veth address, not on loopback.
const SERVER_HOSTS = new Set();
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-device-for-media-stream=fps=10',
  '--use-fake-ui-for-media-stream',
  '--autoplay-policy=no-user-gesture-required',
];

// ---------------------------------------------------------------------------------------------------
// Configuration: the vroom servers scenarios run against, by profile name.

function fail(message) {
  console.error(`run.js: ${message} (see the comment at the top of tests/browser/run.js)`);
  process.exit(2);
}

// `{ profile: { baseUrl, wsUrl, accountSid, apiKeySid, apiKeySecret } }`: from VROOM_SERVERS (JSON,
// as tests/it/browser.rs passes it), else one `default` server from VROOM_BASE_URL and friends.
function loadServers() {
  let servers;
  if (process.env.VROOM_SERVERS) {
    try {
      servers = JSON.parse(process.env.VROOM_SERVERS);
    } catch (e) {
      fail(`VROOM_SERVERS is not JSON: ${e.message}`);
    }
  } else {
    const env = (name) => process.env[name] || fail(`the environment variable ${name} is required`);
    servers = {
      default: {
        baseUrl: env('VROOM_BASE_URL'),
        wsUrl: process.env.VROOM_WS_URL,
        accountSid: env('VROOM_ACCOUNT_SID'),
        apiKeySid: env('VROOM_API_KEY_SID'),
        apiKeySecret: env('VROOM_API_KEY_SECRET'),
      },
    };
  }
  for (const [name, s] of Object.entries(servers)) {
    for (const field of ['baseUrl', 'accountSid', 'apiKeySid', 'apiKeySecret']) {
      if (!s[field]) fail(`server profile '${name}' has no ${field}`);
    }
    s.baseUrl = s.baseUrl.replace(/\/$/, '');
    // The signaling URL of the server at baseUrl unless told otherwise.
    s.wsUrl = s.wsUrl || `${s.baseUrl.replace(/^http/, 'ws')}/signaling`;
    SERVER_HOSTS.add(new URL(s.baseUrl).hostname);
    SERVER_HOSTS.add(new URL(s.wsUrl).hostname);
  }
  return servers;
}

const CHROMIUM = process.env.VROOM_CHROMIUM || '/usr/bin/chromium';

// CHROMIUM_ARGS, and for servers whose TURN/TLS certificate is a test one (`turnTlsCert`, a PEM
// file) the flag that makes Chromium accept that certificate's public key, and no other, despite its
// unknown issuer: --ignore-certificate-errors-spki-list (base64 SHA-256 of the SubjectPublicKeyInfo;
// honoured with a --user-data-dir, which Playwright always passes).
function chromiumArgs(servers) {
  const spkis = Object.values(servers)
    .filter((s) => s.turnTlsCert)
    .map((s) => {
      const key = new crypto.X509Certificate(fs.readFileSync(s.turnTlsCert)).publicKey;
      return crypto.createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('base64');
    });
  return spkis.length ? CHROMIUM_ARGS.concat([`--ignore-certificate-errors-spki-list=${spkis.join(',')}`]) : CHROMIUM_ARGS;
}

// ---------------------------------------------------------------------------------------------------
// The scenario context

const scenarioContext = new AsyncLocalStorage();

// The `run` of the scenario the caller belongs to.
function current() {
  const run = scenarioContext.getStore();
  if (!run) {
    throw new Error('a harness function was called outside a scenario');
  }
  return run;
}

// A new scenario context: the scenario's name, its server (one profile of `loadServers()`), the pool
// its pages come from and the harness page's origin; `clients`, `log` and the rest fill up as it
// runs. run.js makes one per scenario; a script running one scenario of its own (shutdown.js) too.
function newRun(name, server, pages, pageUrl) {
  return { name, server, browser: pages.browser, pages, pageUrl, clients: [], offHost: [], cleanups: [], log: [], ended: false };
}

// Runs `body(run)` with `run` as the scenario context of everything it awaits.
function inScenario(run, body) {
  return scenarioContext.run(run, () => body(run));
}

// ---------------------------------------------------------------------------------------------------
// Checks

class CheckFailed extends Error {}

// A failure of the current scenario, named after it.
function failure(message) {
  return new CheckFailed(`[${current().name}] ${message}`);
}

// Records a passed check in the scenario's log. A scenario that already ended (it ran out of time
// and is being torn down) is stopped here rather than logging into a report already printed.
function pass(label) {
  const run = current();
  if (run.ended) {
    throw new CheckFailed(`[${run.name}] still running after it ended: ${label}`);
  }
  run.log.push(`ok   [${run.name}] ${label}`);
}

function check(condition, label, detail) {
  if (!condition) {
    const shown = typeof detail === 'string' ? detail : JSON.stringify(detail);
    throw failure(`${label}${detail === undefined ? '' : `: got ${shown}`}`);
  }
  pass(label);
}

function equal(actual, expected, label) {
  check(actual === expected, label, `${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
}

const sidPattern = (prefix) => new RegExp(`^${prefix}[0-9a-f]{32}$`);

// ---------------------------------------------------------------------------------------------------
// Access tokens, minted like Twilio's helper libraries do, for the current scenario's server.

function token(identity, room, { secret, ttl = 3600 } = {}) {
  const server = current().server;
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    jti: `${server.apiKeySid}-${now}-${crypto.randomBytes(4).toString('hex')}`,
    iss: server.apiKeySid,
    sub: server.accountSid,
    nbf: now,
    exp: now + ttl,
    grants: { identity, video: room ? { room } : {} },
  };
  return jwt.sign(claims, secret || server.apiKeySecret, {
    algorithm: 'HS256',
    header: { alg: 'HS256', typ: 'JWT', cty: 'twilio-fpa;v=1' },
    noTimestamp: true,
  });
}

// ---------------------------------------------------------------------------------------------------
// REST

// A REST call to the current scenario's server with its API key; `headers` adds or replaces headers.
async function rest(method, urlPath, form, headers = {}) {
  const server = current().server;
  const all = { authorization: `Basic ${Buffer.from(`${server.apiKeySid}:${server.apiKeySecret}`).toString('base64')}` };
  let body;
  if (form) {
    all['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(form).toString();
  }
  Object.assign(all, headers);
  const res = await fetch(`${server.baseUrl}${urlPath}`, { method, headers: all, body });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = { unparsed: text };
  }
  return { status: res.status, body: json, headers: res.headers };
}

// A time bound of `ms` as this machine can keep it now: `ms` while the 1-minute load average is at
// most one per core, stretched by the load per core beyond that, up to 3 times, because the
// browser and the server then wait for a core as much as they work (other test binaries, other
// builds). The cap keeps the check able to fail on any machine (more than 3 × `ms` always fails),
// and an unloaded machine still checks `ms` itself. Measured on 2 cores at a load of 17–21: first
// frames of a late joiner's camera at 3.3–4.4 s and dominant speaker changes at 3.5–4.6 s against
// 2 s; at 22–35 some took 7–15 s, which no bound worth checking allows (run those scenarios on a
// machine that is not building). Returns { ms, why } (`why` says what stretched it, for the label).
function bound(ms) {
  const perCore = os.loadavg()[0] / Math.max(1, os.cpus().length);
  const factor = Math.min(3, Math.max(1, perCore));
  const scaled = Math.round(ms * factor);
  return { ms: scaled, why: factor > 1 ? `${ms} ms × ${factor.toFixed(1)} for load ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores` : `${ms} ms` };
}

// Waits (polling Node-side state) until `condition()` is true.
async function until(label, condition, timeoutMs, describe) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw failure(`${label}: not within ${timeoutMs} ms${describe ? `; ${describe()}` : ''}`);
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
      throw failure(`${label}: still ${JSON.stringify(last && last.seen)} after ${REST_TIMEOUT_MS} ms`);
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
  const target = new URL(current().server.wsUrl);
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
  return LOCAL_HOSTS.has(u.hostname) || SERVER_HOSTS.has(u.hostname);
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

// Pages, each in a browser context of its own, reused from one scenario to the next: a new context
// and page cost Chromium about 1 s of CPU (a new renderer process), more than most of what a short
// scenario does; navigating a kept page again costs a tenth of that. Within a scenario every client
// still has its own context (no shared storage); between scenarios the page goes to about:blank
// (which closes its peer connections and WebSockets) and the context's cookies are cleared.
// twilio-video.js keeps nothing else: only its logger reads localStorage, for a level the harness
// never sets. The listeners are installed once per page and report to the client holding it
// (`owner`).
class PagePool {
  constructor(browser) {
    this.browser = browser;
    this.idle = [];
  }

  async take() {
    return this.idle.pop() || this.create();
  }

  async create() {
    const context = await this.browser.newContext();
    const page = await context.newPage();
    const slot = { context, page, owner: null };
    // Anything not addressed to this machine is recorded and refused before it leaves.
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (isLocal(url)) {
        return route.continue();
      }
      if (slot.owner) {
        slot.owner.run.offHost.push(`${slot.owner.label}: ${route.request().method()} ${url}`);
      }
      return route.abort('blockedbyclient');
    });
    context.on('request', (req) => slot.owner && slot.owner.onRequest(req.url()));
    page.on('websocket', (ws) => slot.owner && slot.owner.onWebSocket(ws));
    page.on('console', (m) => slot.owner && slot.owner.console.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => slot.owner && slot.owner.pageErrors.push(String(e && e.stack ? e.stack : e)));
    page.on('response', (r) => slot.owner && slot.owner.responses.push(`${r.status()} ${r.url()}`));
    return slot;
  }

  // Takes `slot` back, emptied; one that fails to clean up is closed instead.
  async release(slot) {
    slot.owner = null;
    try {
      await slot.page.goto('about:blank');
      await slot.context.clearCookies();
      this.idle.push(slot);
    } catch {
      await slot.context.close().catch(() => {});
    }
  }

  async close() {
    await Promise.all(this.idle.splice(0).map((s) => s.context.close().catch(() => {})));
  }
}

class Client {
  constructor(run, label, slot) {
    this.run = run;
    this.label = label;
    this.slot = slot;
    this.context = slot.context;
    this.page = slot.page;
    this.console = [];
    this.pageErrors = [];
    this.requests = [];
    // `status url` of every response the page got.
    this.responses = [];
    this.websockets = [];
    this.frames = [];
    // RSP bodies (the `body` of TCMP hello/msg frames) in each direction, parsed.
    this.sent = [];
    this.received = [];
    this.heartbeatsSent = 0;
    this.heartbeatsReceived = 0;
  }

  onRequest(url) {
    this.requests.push(url);
    if (!isLocal(url)) {
      this.run.offHost.push(`${this.label}: request ${url}`);
    }
  }

  onWebSocket(ws) {
    this.websockets.push(ws.url());
    if (!isLocal(ws.url())) {
      this.run.offHost.push(`${this.label}: websocket ${ws.url()}`);
    }
    ws.on('framesent', (f) => {
      this.frames.push(`-> ${String(f.payload).slice(0, FRAME_CHARS)}`);
      rspBody(f.payload, this.sent);
      this.heartbeatsSent += isHeartbeat(f.payload) ? 1 : 0;
    });
    ws.on('framereceived', (f) => {
      this.frames.push(`<- ${String(f.payload).slice(0, FRAME_CHARS)}`);
      rspBody(f.payload, this.received);
      this.heartbeatsReceived += isHeartbeat(f.payload) ? 1 : 0;
    });
    ws.on('close', () => this.frames.push('-- closed'));
  }

  // Opens a page of the harness (or, with `url`, any other page: then there is no `window.harness`)
  // in a new browser context that belongs to `run`, so its events, console and frames are reported.
  static async open(run, label, { url } = {}) {
    if (run.ended) {
      throw new CheckFailed(`[${run.name}] still running after it ended: opening ${label}`);
    }
    const slot = await run.pages.take();
    const client = new Client(run, label, slot);
    slot.owner = client;
    run.clients.push(client);
    const page = slot.page;
    if (url) {
      await page.goto(url);
      pass(`${label}: ${url} loads`);
      return client;
    }
    await page.goto(`${run.pageUrl}/index.html`);
    const ready = await page.evaluate(() => window.harnessReady === true);
    check(ready, `${label}: page loaded twilio-video.js ${await page.evaluate(() => (window.Twilio && Twilio.Video && Twilio.Video.version) || '?')}`);
    return client;
  }

  // Connects to `room` as `identity`; returns the room summary. Fails the check if connect() rejects.
  async connect(identity, room, options) {
    const opts = Object.assign({ wsServer: this.run.server.wsUrl, name: room }, options || {});
    const summary = await this.page.evaluate(([t, o]) => window.harness.connect(t, o), [token(identity, room), opts]);
    check(summary && !summary.error, `${this.label}: connect() as '${identity}' resolved`, summary);
    return summary;
  }

  // connect() with a ready-made token; resolves with the summary or `{ error }`, checking nothing.
  connectWith(accessToken, room) {
    const opts = { wsServer: this.run.server.wsUrl, name: room };
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

  restart(trackSid) {
    return this.page.evaluate((sid) => window.harness.restart(sid), trackSid);
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
        throw failure(`${label}: not rising within ${EVENT_TIMEOUT_MS} ms; first ${JSON.stringify(first)}, last ${JSON.stringify(last)}`);
      }
    }
  }

  // Waits until the <video> element of every video track SID in `sids` presents frames, and checks
  // that the first came within `withinMs` of the track's subscription (stretched by `bound` on a
  // loaded machine). Returns the render records.
  async renders(sids, withinMs, what) {
    const label = `${this.label}: ${what}`;
    const deadline = Date.now() + EVENT_TIMEOUT_MS;
    let first = null;
    let last = {};
    for (;;) {
      last = await this.page.evaluate(() => window.harness.rendered());
      const shown = sids.every((sid) => last[sid] && last[sid].firstFrameAt !== null);
      if (shown && first === null) {
        first = last;
      } else if (shown && sids.every((sid) => last[sid].frames > first[sid].frames)) {
        break;
      }
      if (Date.now() > deadline) {
        throw failure(`${label}: no frames shown within ${EVENT_TIMEOUT_MS} ms: ${JSON.stringify(last)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const delays = sids.map((sid) => last[sid].firstFrameAt - last[sid].subscribedAt);
    const detail = sids.map((sid, i) => `${sid.slice(0, 8)}…: first frame ${delays[i]} ms after subscription, ${last[sid].width}x${last[sid].height}`).join('; ');
    const limit = bound(withinMs);
    check(delays.every((d) => d <= limit.ms), `${label} within ${limit.ms} ms (${limit.why}; ${detail})`, last);
    return last;
  }

  // Waits until the <video> element of `sid` presents at least `more` frames beyond what it had
  // presented when called, and checks that the first came within `withinMs` (stretched by `bound`).
  async rendersAgain(sid, more, withinMs, what) {
    const label = `${this.label}: ${what}`;
    const start = Date.now();
    const base = (await this.page.evaluate(() => window.harness.rendered()))[sid];
    const from = base ? base.frames : 0;
    let firstAt = null;
    for (;;) {
      const now = (await this.page.evaluate(() => window.harness.rendered()))[sid];
      const frames = now ? now.frames : 0;
      if (frames > from && firstAt === null) {
        firstAt = Date.now();
      }
      if (frames >= from + more) {
        break;
      }
      if (Date.now() - start > EVENT_TIMEOUT_MS) {
        throw failure(`${label}: ${frames - from} new frames within ${EVENT_TIMEOUT_MS} ms`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const limit = bound(withinMs);
    check(firstAt - start <= limit.ms, `${label} within ${limit.ms} ms (${limit.why}; first new frame after ${firstAt - start} ms)`);
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
      throw failure(`${label}: not within ${EVENT_TIMEOUT_MS} ms`);
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
      throw failure(`${label}: not within ${EVENT_TIMEOUT_MS} ms`);
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
        throw failure(`${label}: still rising after ${EVENT_TIMEOUT_MS} ms: ${JSON.stringify(now)}`);
      }
      before = now;
    }
  }

  // Stops (`off` true) or restarts the RTP of the page's local track `trackSid` (see harness.js
  // `silence`); returns how many RTCRtpSenders it changed.
  silence(trackSid, off) {
    return this.page.evaluate(([sid, o]) => window.harness.silence(sid, o), [trackSid, off]);
  }

  // The first room event of `type` whose top-level fields equal those of `match`, waiting for it;
  // with `after` (an event's `seq`), only events recorded after that one count.
  async waitEvent(type, match, what, after = -1) {
    const label = `${this.label}: ${what || type}`;
    // The page resolves when the event is logged (no polling); null after the timeout.
    const event = await this.page
      .evaluate(([t, m, a, ms]) => window.harness.waitFor(t, m, a, ms), [type, match || {}, after, EVENT_TIMEOUT_MS])
      .catch((e) => ({ pageGone: String(e) }));
    if (event && !event.pageGone) {
      pass(label);
      return event;
    }
    const seen = await this.events().catch(() => []);
    throw failure(
      `${label}: no '${type}' event ${JSON.stringify(match || {})} within ${EVENT_TIMEOUT_MS} ms${event ? ` (${event.pageGone})` : ''}; events so far: ${JSON.stringify(seen)}`,
    );
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

// The local candidate of every peer connection's selected pair: its type ('host', 'relay', …), its
// protocol ('udp', 'tcp') and, for a relay, how the browser reaches the TURN server. Read from the
// RTCPeerConnections twilio-video.js keeps (2.36's internals: room → signaling → peer connection
// manager).
function selectedCandidates(client) {
  return client.page.evaluate(async () => {
    const room = window.harness.room();
    const out = [];
    for (const pcv2 of room._signaling._peerConnectionManager._peerConnections.values()) {
      const report = await pcv2._peerConnection.getStats();
      const stats = [];
      report.forEach((s) => stats.push(s));
      const byId = new Map(stats.map((s) => [s.id, s]));
      for (const t of stats.filter((s) => s.type === 'transport' && s.selectedCandidatePairId)) {
        const pair = byId.get(t.selectedCandidatePairId);
        const local = pair && byId.get(pair.localCandidateId);
        const remote = pair && byId.get(pair.remoteCandidateId);
        if (local) {
          out.push({
            type: local.candidateType,
            protocol: local.protocol,
            relayProtocol: local.relayProtocol || null,
            remote: remote ? `${remote.address}:${remote.port}/${remote.protocol}` : null,
          });
        }
      }
    }
    return out;
  });
}

// REST: the SIDs of the tracks `participant` is subscribed to, sorted.
async function restSubscribed(roomSid, participantSid) {
  const r = await rest('GET', `/v1/Rooms/${roomSid}/Participants/${participantSid}/SubscribedTracks`);
  return { status: r.status, sids: (r.body.subscribed_tracks || []).map((t) => t.sid).sort() };
}

module.exports = {
  AV,
  CHROMIUM,
  CHROMIUM_ARGS,
  CheckFailed,
  chromiumArgs,
  Client,
  PagePool,
  EVENT_TIMEOUT_MS,
  bound,
  check,
  current,
  equal,
  failure,
  eventually,
  expectParticipantStatus,
  inScenario,
  isLocal,
  loadServers,
  localSid,
  newRun,
  pass,
  receives,
  rest,
  restSubscribed,
  selectedCandidates,
  roomName,
  sidPattern,
  startPageServer,
  startRelay,
  token,
  until,
};
