#!/usr/bin/env node
// The /quickstart page vroom serves, used as a person would: two browser pages open it, paste a token,
// press Join, see each other's video and hear each other's audio, and press Leave.
// Run by tests/it/quickstart.rs with VROOM_BASE_URL and the API key credentials (see run.js), and
// VROOM_EXPECT_SDK_URL: where each page must load twilio-video.js from.

'use strict';

const crypto = require('node:crypto');
const { chromium } = require('playwright-core');

const { BASE_URL, CHROMIUM, CHROMIUM_ARGS, isLocal, pass, setScenario, token } = require('./lib');

const TIMEOUT = 20000;
const EXPECT_SDK_URL = process.env.VROOM_EXPECT_SDK_URL;

async function main() {
  setScenario('quickstart');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const offHost = [];
  const room = `quickstart-${crypto.randomBytes(3).toString('hex')}`;
  const pages = [];
  try {
    for (const identity of ['alice', 'bob']) {
      const context = await browser.newContext();
      await context.route('**/*', (route) => {
        const url = route.request().url();
        if (isLocal(url)) return route.continue();
        offHost.push(url);
        return route.abort('blockedbyclient');
      });
      const page = await context.newPage();
      const sdkLoads = [];
      page.on('response', (r) => {
        if (r.url().endsWith('/twilio-video.min.js')) sdkLoads.push(`${r.status()} ${r.url()}`);
      });
      await page.goto(`${BASE_URL}/quickstart`);
      pass(`${identity}: the page loads`);
      const loaded = await page.evaluate(() => typeof Twilio === 'object' && typeof Twilio.Video.connect === 'function');
      if (!loaded) throw new Error(`twilio-video.js did not load (${sdkLoads.join(', ') || 'never requested'}); the page says: ${await page.textContent('#status')}`);
      if (EXPECT_SDK_URL && !(sdkLoads.length === 1 && sdkLoads[0] === `200 ${EXPECT_SDK_URL}`)) {
        throw new Error(`twilio-video.js came from ${sdkLoads.join(', ')}, expected ${EXPECT_SDK_URL}`);
      }
      pass(`${identity}: twilio-video.js loaded (${sdkLoads.join(', ')})`);
      await page.fill('#token', token(identity, room));
      await page.click('#join-button');
      await page.waitForFunction(() => /^Connected to /.test(document.getElementById('status').textContent), null, { timeout: TIMEOUT });
      pass(`${identity}: Join connects (${await page.textContent('#status')})`);
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
      pass(`${identity}: sees ${other}'s video playing and hears ${other}'s audio`);
    }
    // Leave.
    const { page } = pages[1];
    await page.click('#leave-button');
    await page.waitForFunction(() => document.getElementById('status').textContent === 'Left the room.', null, { timeout: TIMEOUT });
    pass('bob: Leave disconnects');
    await pages[0].page.waitForFunction(
      () => ![...document.querySelectorAll('.tile .name')].some((n) => n.textContent === 'bob'),
      null,
      { timeout: TIMEOUT },
    );
    pass("alice: bob's tile goes away");
    if (offHost.length) throw new Error(`requests left 127.0.0.1: ${offHost.join(', ')}`);
    pass('every request stayed on 127.0.0.1');
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
