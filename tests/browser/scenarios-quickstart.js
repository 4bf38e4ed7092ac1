// The /quickstart page vroom serves, used as a person would: two pages open it, paste a token, press
// Join, see each other's video and hear each other's audio, and press Leave. Once for each place the
// page can get twilio-video.js from; the server profile (tests/it/quickstart.rs) says where the SDK
// must come from (`expectSdkUrl`).

'use strict';

const { Client, EVENT_TIMEOUT_MS, check, pass, roomName, token } = require('./lib');

async function quickstart(run) {
  const room = roomName('quickstart');
  const expected = run.server.expectSdkUrl;
  const pages = [];
  for (const identity of ['alice', 'bob']) {
    const client = await Client.open(run, identity, { url: `${run.server.baseUrl}/quickstart` });
    const page = client.page;
    const loads = client.responses.filter((r) => r.endsWith('/twilio-video.min.js'));
    const loaded = await page.evaluate(() => typeof Twilio === 'object' && typeof Twilio.Video.connect === 'function');
    check(loaded, `${identity}: twilio-video.js loaded (${loads.join(', ')})`, `not loaded (${loads.join(', ') || 'never requested'}); the page says: ${await page.textContent('#status')}`);
    check(loads.length === 1 && loads[0] === `200 ${expected}`, `${identity}: from ${expected}`, loads);
    await page.fill('#token', token(identity, room));
    await page.click('#join-button');
    await page.waitForFunction(() => /^Connected to /.test(document.getElementById('status').textContent), null, { timeout: EVENT_TIMEOUT_MS });
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
      { timeout: EVENT_TIMEOUT_MS, polling: 100 },
    );
    pass(`${identity}: sees ${other}'s video playing and hears ${other}'s audio`);
  }
  const { page } = pages[1];
  await page.click('#leave-button');
  await page.waitForFunction(() => document.getElementById('status').textContent === 'Left the room.', null, { timeout: EVENT_TIMEOUT_MS });
  pass('bob: Leave disconnects');
  await pages[0].page.waitForFunction(
    () => ![...document.querySelectorAll('.tile .name')].some((n) => n.textContent === 'bob'),
    null,
    { timeout: EVENT_TIMEOUT_MS },
  );
  pass("alice: bob's tile goes away");
}

module.exports = {
  // The pinned release from the CDN (a local stand-in serving the npm package's file, so the
  // integrity hash is checked against the real release).
  quickstart_cdn: { server: 'quickstart_cdn', run: quickstart },
  // A copy in the data folder, with no CDN reachable (offline).
  quickstart_offline: { server: 'quickstart_offline', run: quickstart },
};
