#!/usr/bin/env node
// twilio-video.js on a network that drops UDP: tests/it/netns.rs runs this script inside a network
// namespace of its own whose UDP to vroom is dropped (nftables), with vroom on the other end of a
// veth pair. Two pages connect with camera and microphone:
// - A passes `iceServers: []`, so the only way in is ICE over TCP to the media server's passive TCP
//   candidate (RFC 6544);
// - B passes none, so twilio-video.js asks vroom for its ICE servers (`iced`: vroom's TURN over
//   UDP and TCP), and allows relayed candidates only, so the only way in is TURN over TCP.
// Each must receive the other's audio and video, and each selected candidate pair must be TCP.
// Environment as for run.js (VROOM_BASE_URL and the credentials).

'use strict';

const { chromium } = require('playwright-core');

const { AV, CHROMIUM, CHROMIUM_ARGS, Client, PagePool, check, equal, inScenario, loadServers, localSid, newRun, receives, roomName, selectedCandidates, startPageServer } = require('./lib');

async function scenario(run) {
  const name = roomName('udp-dropped');
  const a = await Client.open(run, 'A');
  const b = await Client.open(run, 'B');
  const ra = await a.connect('alice', name, Object.assign({ iceServers: [] }, AV));
  const rb = await b.connect('bob', name, Object.assign({ iceServers: null, iceTransportPolicy: 'relay' }, AV));
  await receives(a, [localSid(rb, 'audio'), localSid(rb, 'video')], 'bob');
  await receives(b, [localSid(ra, 'audio'), localSid(ra, 'video')], 'alice');
  const server = new URL(run.server.baseUrl).hostname;
  // A's local candidate is its active TCP one: `host`, or `prflx` once the server's checks taught
  // the browser the connection's real port.
  const pairs = { A: await selectedCandidates(a), B: await selectedCandidates(b) };
  console.log(`SELECTED ${JSON.stringify(pairs)}`);
  check(pairs.A.length > 0 && pairs.B.length > 0, 'each page has a selected candidate pair', pairs);
  equal(
    JSON.stringify(pairs.A.filter((c) => !(['host', 'prflx'].includes(c.type) && c.protocol === 'tcp' && c.remote && c.remote.startsWith(`${server}:`) && c.remote.endsWith('/tcp')))),
    '[]',
    `A: every peer connection is ICE over TCP to vroom's media server at ${server}`,
  );
  equal(
    JSON.stringify(pairs.B.filter((c) => !(c.type === 'relay' && c.relayProtocol === 'tcp'))),
    '[]',
    "B: every peer connection goes through vroom's TURN server over TCP",
  );
  check(run.offHost.length === 0, `every request stayed on 127.0.0.1 or vroom's ${server}`, run.offHost);
}

async function main() {
  const pageServer = await startPageServer();
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  const run = newRun('udp_dropped', loadServers().default, new PagePool(browser), `http://127.0.0.1:${pageServer.address().port}`);
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
  () => console.log('udp_dropped passed'),
  (e) => {
    console.error(`FAIL [udp_dropped] ${e && e.stack ? e.stack : e}`);
    process.exit(1);
  },
);
