#!/usr/bin/env node
// The /quickstart page vroom serves, used as a person would: two browser pages open it, paste a token,
// press Join, see each other's video and hear each other's audio, and press Leave.
// Run by tests/it/quickstart.rs with VROOM_BASE_URL and the API key credentials (see run.js).

'use strict';

const crypto = require('node:crypto');
const jwt = require('jsonwebtoken');
const { chromium } = require('playwright-core');

const BASE_URL = process.env.VROOM_BASE_URL.replace(/\/$/, '');
const ACCOUNT_SID = process.env.VROOM_ACCOUNT_SID;
const API_KEY_SID = process.env.VROOM_API_KEY_SID;
const API_KEY_SECRET = process.env.VROOM_API_KEY_SECRET;
const TIMEOUT = 20000;

function token(identity, room) {
  const now = Math.floor(Date.now() / 1000);
  return jwt.sign(
    { jti: `${API_KEY_SID}-${now}`, iss: API_KEY_SID, sub: ACCOUNT_SID, nbf: now, exp: now + 600, grants: { identity, video: { room } } },
    API_KEY_SECRET,
    { algorithm: 'HS256', header: { alg: 'HS256', typ: 'JWT', cty: 'twilio-fpa;v=1' }, noTimestamp: true },
  );
}

function ok(label) {
  console.log(`ok   [quickstart] ${label}`);
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.VROOM_CHROMIUM || '/usr/bin/chromium',
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream', '--autoplay-policy=no-user-gesture-required',
    ],
  });
  const offHost = [];
  const room = `quickstart-${crypto.randomBytes(3).toString('hex')}`;
  const pages = [];
  try {
    for (const identity of ['alice', 'bob']) {
      const context = await browser.newContext();
      await context.route('**/*', (route) => {
        const url = new URL(route.request().url());
        if (['127.0.0.1', 'localhost'].includes(url.hostname)) return route.continue();
        offHost.push(url.href);
        return route.abort('blockedbyclient');
      });
      const page = await context.newPage();
      await page.goto(`${BASE_URL}/quickstart`);
      ok(`${identity}: the page loads`);
      await page.fill('#token', token(identity, room));
      await page.click('#join-button');
      await page.waitForFunction(() => /^Connected to /.test(document.getElementById('status').textContent), null, { timeout: TIMEOUT });
      ok(`${identity}: Join connects (${await page.textContent('#status')})`);
      pages.push({ identity, page });
    }
    // Each page shows the other's tile with a playing video, and plays the other's audio.
    for (const { identity, page } of pages) {
      const other = identity === 'alice' ? 'bob' : 'alice';
      await page.waitForFunction(
        (who) => [...document.querySelectorAll('.tile')].some((t) => {
          if (t.querySelector('.name').textContent !== who) return false;
          const video = t.querySelector('video');
          const audio = t.querySelector('audio');
          return video && video.videoWidth > 0 && video.currentTime > 0.5 && audio && audio.currentTime > 0.5;
        }),
        other,
        { timeout: TIMEOUT, polling: 100 },
      );
      ok(`${identity}: sees ${other}'s video playing and hears ${other}'s audio`);
    }
    // Leave.
    const { page } = pages[1];
    await page.click('#leave-button');
    await page.waitForFunction(() => document.getElementById('status').textContent === 'Left the room.', null, { timeout: TIMEOUT });
    ok('bob: Leave disconnects');
    await pages[0].page.waitForFunction(
      () => ![...document.querySelectorAll('.tile .name')].some((n) => n.textContent === 'bob'),
      null,
      { timeout: TIMEOUT },
    );
    ok("alice: bob's tile goes away");
    if (offHost.length) throw new Error(`requests left 127.0.0.1: ${offHost.join(', ')}`);
    ok('every request stayed on 127.0.0.1');
  } finally {
    await browser.close();
  }
}

main().then(
  () => console.log('quickstart passed'),
  (e) => {
    console.error(`FAIL [quickstart] ${e && e.stack ? e.stack : e}`);
    process.exit(1);
  },
);
