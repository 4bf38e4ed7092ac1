#!/usr/bin/env node
// twilio-video.js in two pages that signal through two different vroom nodes sharing one
// PostgreSQL database (tests/it/cluster_relay.rs starts them): the room is made on node A, page A
// signals through node A, page B through node B (which relays its connection to node A, the
// room's node). Both pages must be in the one room, and each must receive the other's audio
// (samples decoded) and video (frames decoded and shown), from node A's media server. Then page B
// leaves, and page A is told. VROOM_SERVERS names the two nodes as profiles `a` and `b` (same
// credentials).

'use strict';

const { chromium } = require('playwright-core');

const { AV, CHROMIUM, CHROMIUM_ARGS, Client, EVENT_TIMEOUT_MS, PagePool, check, equal, inScenario, loadServers, localSid, newRun, receives, rest, roomName, startPageServer } = require('./lib');

async function scenario(run, servers) {
  const name = roomName('cluster');
  const made = await rest('POST', '/v1/Rooms', { UniqueName: name });
  equal(made.status, 201, 'the room is created on node A');
  const a = await Client.open(run, 'A');
  const b = await Client.open(run, 'B');
  const ra = await a.connect('alice', name, { ...AV, wsServer: servers.a.wsUrl });
  const rb = await b.connect('bob', name, { ...AV, wsServer: servers.b.wsUrl });
  equal(rb.sid, made.body.sid, 'page B, signaling through node B, is in node A\'s room');
  equal(ra.sid, made.body.sid, 'page A is in the same room');
  await receives(a, [localSid(rb, 'audio'), localSid(rb, 'video')], 'bob');
  await receives(b, [localSid(ra, 'audio'), localSid(ra, 'video')], 'alice');
  await a.renders([localSid(rb, 'video')], EVENT_TIMEOUT_MS, "shows bob's video");
  await b.renders([localSid(ra, 'video')], EVENT_TIMEOUT_MS, "shows alice's video");
  const participants = await rest('GET', `/v1/Rooms/${made.body.sid}/Participants?Status=connected`);
  equal((participants.body.participants || []).length, 2, 'REST on node A lists both as connected');
  await b.disconnect();
  await a.waitEvent('participantDisconnected', {}, "A: told bob left (through node B's relay)");
  check(run.offHost.length === 0, 'every request stayed on 127.0.0.1', run.offHost);
}

async function main() {
  const servers = loadServers();
  for (const profile of ['a', 'b']) {
    if (!servers[profile]) throw new Error(`VROOM_SERVERS has no profile '${profile}'`);
  }
  const pageServer = await startPageServer();
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  const run = newRun('cluster', servers.a, new PagePool(browser), `http://127.0.0.1:${pageServer.address().port}`);
  try {
    await inScenario(run, (r) => scenario(r, servers));
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
  () => console.log('cluster passed'),
  (e) => {
    console.error(`FAIL [cluster] ${e && e.stack ? e.stack : e}`);
    process.exit(1);
  },
);
