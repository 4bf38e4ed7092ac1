#!/usr/bin/env node
// twilio-video.js in two pages while vroom stops: they connect with camera and microphone, this
// script prints `READY <room sid> <participant sids>` and the caller (tests/it/shutdown.rs) sends
// vroom SIGTERM. Each page's room must then emit 'disconnected' with 53000 at once, without first
// trying to reconnect. Environment as for run.js.

'use strict';

const { chromium } = require('playwright-core');

const { AV, CHROMIUM, CHROMIUM_ARGS, Client, PagePool, check, equal, inScenario, loadServers, localSid, newRun, receives, roomName, startPageServer } = require('./lib');

async function scenario(run) {
  const name = roomName('shutdown');
  const a = await Client.open(run, 'A');
  const b = await Client.open(run, 'B');
  const ra = await a.connect('alice', name, AV);
  const rb = await b.connect('bob', name, AV);
  await receives(a, [localSid(rb, 'audio'), localSid(rb, 'video')], 'bob');
  await receives(b, [localSid(ra, 'audio'), localSid(ra, 'video')], 'alice');
  console.log(run.log.splice(0).join('\n'));
  console.log(`READY ${ra.sid} ${ra.localParticipant.sid} ${rb.localParticipant.sid}`);
  for (const c of [a, b]) {
    const d = await c.waitEvent('disconnected', {}, `${c.label}: the room emits 'disconnected' when vroom stops`);
    equal(d.error && d.error.code, 53000, `${c.label}: with 53000 (SignalingConnectionError)`);
    const events = await c.events();
    check(!events.some((e) => e.type === 'reconnecting'), `${c.label}: without trying to reconnect first`, events.map((e) => e.type));
  }
  check(run.offHost.length === 0, 'every request stayed on 127.0.0.1', run.offHost);
}

async function main() {
  const pageServer = await startPageServer();
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  const run = newRun('shutdown', loadServers().default, new PagePool(browser), `http://127.0.0.1:${pageServer.address().port}`);
  try {
    await inScenario(run, scenario);
    console.log(run.log.join('\n'));
  } catch (e) {
    console.log(run.log.join('\n'));
    if (run.clients.length) console.error((await Promise.all(run.clients.map((c) => c.dump()))).join('\n'));
    throw e;
  } finally {
    await browser.close();
    pageServer.close();
  }
}

main().then(
  () => console.log('shutdown passed'),
  (e) => {
    console.error(`FAIL [shutdown] ${e && e.stack ? e.stack : e}`);
    process.exit(1);
  },
);
