#!/usr/bin/env node
// twilio-video.js 2.36.0 in headless Chromium against a running vroom.
//
// Started by tests/it/browser.rs, or by hand against any vroom:
//   VROOM_BASE_URL=http://127.0.0.1:8080 \
//   VROOM_ACCOUNT_SID=AC… VROOM_API_KEY_SID=SK… VROOM_API_KEY_SECRET=… node tests/browser/run.js [scenario…]
// (VROOM_WS_URL overrides the signaling URL, ws://…/signaling of the same server by default.)
// Scenarios come from the arguments or VROOM_SCENARIOS (comma-separated); all of them when neither is
// given. Prints one line per check and exits 1 at the first failed check, after printing what each
// page logged. Each page is its own browser context (no shared storage), loads the SDK from a local
// HTTP server this script starts, and every request and WebSocket it makes is checked to stay on
// 127.0.0.1. VROOM_BROWSER_TRACE=1 prints each page's events, console and WebSocket frames even on
// success.

'use strict';

const fs = require('node:fs');
const { chromium } = require('playwright-core');

const { BASE_URL, CHROMIUM, CHROMIUM_ARGS, CheckFailed, WATCHDOG_MS, check, scenarioName, setScenario, startPageServer } = require('./lib');

const scenarios = Object.assign({}, require('./scenarios-media'), require('./scenarios-signaling'));


// ---------------------------------------------------------------------------------------------------
// Main

async function runScenario(browser, pageUrl, name) {
  setScenario(name);
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
    console.error(`FAIL [${scenarioName()}] run.js did not finish within ${WATCHDOG_MS} ms`);
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
    const message = failed instanceof CheckFailed ? failed.message : `[${scenarioName()}] ${failed.stack || failed}`;
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
