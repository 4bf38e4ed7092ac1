#!/usr/bin/env node
// twilio-video.js 2.36.0 in headless Chromium against running vroom servers: one Chromium for every
// scenario, several scenarios at once, then the solo ones one by one.
//
// Started by tests/it/browser.rs (which starts one vroom per server profile and passes them in
// VROOM_SERVERS), or by hand against any vroom, as the `default` profile:
//   VROOM_BASE_URL=http://127.0.0.1:8080 \
//   VROOM_ACCOUNT_SID=AC… VROOM_API_KEY_SID=SK… VROOM_API_KEY_SECRET=… node tests/browser/run.js [scenario…]
// (VROOM_WS_URL overrides the signaling URL, ws://…/signaling of the same server by default.)
//
// Scenarios come from the arguments or VROOM_SCENARIOS (comma-separated); all of them when neither is
// given (`VROOM_SCENARIOS=glare,connect cargo test --test it browser` passes it through). It runs in
// two phases: first every scenario not marked solo, up to VROOM_BROWSER_PARALLEL (default 2) at once,
// each in its own browser contexts and its own rooms; then the solo ones, one at a time with nothing
// else running. A scenario that does not finish within VROOM_BROWSER_SCENARIO_MS (default 120000)
// fails; every scenario runs to its end even when another fails. Each one's report is printed as one
// block when it ends: its checks (`ok   [name] …`), then `done [name]` or `FAIL [name] …` followed by
// what each of its pages logged (room events, console, page errors, WebSocket frames). The last lines
// sum up and name every failed scenario; the exit status is 1 if any failed. VROOM_BROWSER_TRACE=1
// prints the pages' logs even on success.
//
// Adding a scenario:
// - Write `async name(run) { … }` in a scenarios-*.js module (a new module goes in MODULES below).
//   Open pages with `Client.open(run, label)`, name rooms with `roomName(...)` so scenarios running
//   at once never share a room, and check with `check`/`equal`/`waitEvent`/… from lib.js.
// - Touch nothing outside the scenario's own rooms (no listing of every room, no server-wide
//   settings): other scenarios run on the same server at the same time.
// - A scenario that needs a server started with other settings (a heartbeat period, a media cap…) is
//   written `name: { server: 'profile', run }`; tests/it/browser.rs (`profile`) defines each profile
//   and starts one server per profile the selected scenarios name. Scenarios with the same needs
//   share a profile.
// - A scenario that checks a time bound (a first frame within 2 s of subscribing, a switch within
//   1 s…) is marked solo: `name: { solo: true, run }` (with `server:` too if it needs one). On this
//   small machine other scenarios' pages take the CPU such a bound measures; solo scenarios run last,
//   alone. Mark only those: every solo scenario adds its whole duration to the run.
// Every request and WebSocket a page makes is checked to stay on 127.0.0.1.

'use strict';

const fs = require('node:fs');
const { chromium } = require('playwright-core');

const { CHROMIUM, CheckFailed, PagePool, check, chromiumArgs, inScenario, loadServers, newRun, startPageServer } = require('./lib');

const MODULES = ['./scenarios-signaling', './scenarios-media', './scenarios-adaptive', './scenarios-quickstart', './scenarios-console', './scenarios-fidelity', './scenarios-reach', './scenarios-recording'];
const PARALLEL = Math.max(1, Number(process.env.VROOM_BROWSER_PARALLEL || 2));
const SCENARIO_MS = Number(process.env.VROOM_BROWSER_SCENARIO_MS || 120000);

// name → { server, solo, body }
function loadScenarios() {
  const all = {};
  for (const m of MODULES) {
    for (const [name, s] of Object.entries(require(m))) {
      if (all[name]) throw new Error(`scenario '${name}' is defined twice (${m})`);
      all[name] = typeof s === 'function' ? { server: 'default', solo: false, body: s } : { server: s.server || 'default', solo: !!s.solo, body: s.run };
    }
  }
  return all;
}

// Runs one scenario to its end (or its time limit) and returns its report.
async function runScenario(pool, pageUrl, name, scenario, server) {
  const run = newRun(name, server, pool, pageUrl);
  const started = Date.now();
  let timer;
  let error = null;
  try {
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new CheckFailed(`[${name}] did not finish within ${SCENARIO_MS} ms`)), SCENARIO_MS);
    });
    await Promise.race([inScenario(run, scenario.body), timeout]);
    await inScenario(run, async () => {
      const requests = run.clients.reduce((n, c) => n + c.requests.length, 0);
      const sockets = run.clients.reduce((n, c) => n + c.websockets.length, 0);
      check(run.offHost.length === 0, `all ${requests} requests and ${sockets} WebSockets stayed on 127.0.0.1`, run.offHost);
      const errors = run.clients.flatMap((c) => c.pageErrors.map((e) => `${c.label}: ${e}`));
      check(errors.length === 0, 'no uncaught errors in the pages', errors);
    });
  } catch (e) {
    error = e instanceof CheckFailed ? e.message : `[${name}] ${e.stack || e}`;
  } finally {
    clearTimeout(timer);
  }
  const lines = run.log.slice();
  run.ended = true;
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (error) {
    lines.push(`FAIL ${error} (after ${seconds} s)`);
  } else {
    lines.push(`done [${name}] in ${seconds} s`);
  }
  if (error || process.env.VROOM_BROWSER_TRACE) {
    const dumps = await Promise.all(run.clients.map((c) => c.dump().catch((e) => `--- ${c.label}: no dump (${e})`)));
    lines.push(...dumps.map((d) => d.replace(/^--- /, `--- [${name}] `)));
  }
  await Promise.all(run.clients.map((c) => pool.release(c.slot)));
  run.cleanups.forEach((f) => f());
  return { name, error, lines };
}

// Runs the scenarios of `names` not marked solo with at most PARALLEL at once, then the solo ones
// one by one with nothing else running; prints each report as it ends.
async function runAll(pool, pageUrl, names, scenarios, servers) {
  const failed = [];
  async function worker(queue) {
    while (queue.length) {
      const name = queue.shift();
      const report = await runScenario(pool, pageUrl, name, scenarios[name], servers[scenarios[name].server]);
      console.log(report.lines.join('\n'));
      if (report.error) failed.push(report);
    }
  }
  const together = names.filter((n) => !scenarios[n].solo);
  await Promise.all(Array.from({ length: Math.min(PARALLEL, together.length) }, () => worker(together)));
  await worker(names.filter((n) => scenarios[n].solo));
  return failed;
}

async function main() {
  const scenarios = loadScenarios();
  const fromArgs = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const fromEnv = (process.env.VROOM_SCENARIOS || '').split(',').map((s) => s.trim()).filter(Boolean);
  const wanted = fromArgs.length ? fromArgs : fromEnv.length ? fromEnv : Object.keys(scenarios);
  const unknown = wanted.filter((s) => !scenarios[s]);
  if (unknown.length) {
    console.error(`run.js: unknown scenario(s) ${unknown.join(', ')}; known: ${Object.keys(scenarios).join(', ')}`);
    process.exit(2);
  }
  if (process.argv.includes('--servers')) {
    // What tests/it/browser.rs asks first: the server profiles these scenarios need, as JSON.
    console.log(JSON.stringify([...new Set(wanted.map((s) => scenarios[s].server))]));
    return;
  }
  const servers = loadServers();
  const unserved = wanted.filter((s) => !servers[scenarios[s].server]).map((s) => `${s} needs '${scenarios[s].server}'`);
  if (unserved.length) {
    console.error(`run.js: no server for ${unserved.join(', ')}; given: ${Object.keys(servers).join(', ')}`);
    process.exit(2);
  }
  if (!fs.existsSync(CHROMIUM)) {
    console.error(`run.js: ${CHROMIUM} is missing; run scripts/setup-test-deps`);
    process.exit(2);
  }

  const pageServer = await startPageServer();
  const pageUrl = `http://127.0.0.1:${pageServer.address().port}`;
  const started = Date.now();
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: chromiumArgs(servers) });
  const where = Object.entries(servers).map(([n, s]) => `${n} ${s.baseUrl}`).join(', ');
  console.log(`run.js: ${browser.version()} via playwright-core ${require('playwright-core/package.json').version}; ${wanted.length} scenario(s), ${PARALLEL} at once; vroom: ${where}`);
  let failed;
  try {
    const pool = new PagePool(browser);
    failed = await runAll(pool, pageUrl, wanted, scenarios, servers);
    await pool.close();
  } finally {
    await browser.close().catch(() => {});
    pageServer.close();
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (failed.length) {
    const summary = [`FAIL ${failed.length} of ${wanted.length} scenario(s) failed in ${seconds} s:`, ...failed.map((f) => `  ${f.error}`)];
    console.log(summary.join('\n'));
    console.error(summary.join('\n'));
    process.exit(1);
  }
  console.log(`all ${wanted.length} scenario(s) passed in ${seconds} s`);
}

main().catch((e) => {
  console.error(`FAIL run.js crashed: ${e.stack || e}`);
  process.exit(1);
});
