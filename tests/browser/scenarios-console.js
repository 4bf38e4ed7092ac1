// The /console page vroom serves, used as an operator would, beside twilio-video.js clients: log in
// (a wrong secret first), watch a participant appear in a live room with its tracks and a duration
// that counts, mint a token in the console and join with it, kick the first participant (its client
// is disconnected with 53204), complete the room (the other is disconnected with 53118) and see it
// among the recent rooms. Only this scenario's own room is touched.
//
// VROOM_CONSOLE_SCREENSHOT=path saves the console, with both participants in, as a PNG there
// (docs/console.png is made that way).

'use strict';

const { AV, Client, EVENT_TIMEOUT_MS, check, equal, pass, roomName } = require('./lib');

// Waits for `selector` on the console page; fails the scenario with `what` if it does not appear.
async function shows(page, selector, what) {
  try {
    await page.waitForSelector(selector, { timeout: EVENT_TIMEOUT_MS });
  } catch {
    check(false, `console: ${what}`, `nothing matches ${selector}; the page shows: ${(await page.textContent('body')).replace(/\s+/g, ' ').slice(0, 1500)}`);
  }
  pass(`console: ${what}`);
}

async function consoleScenario(run) {
  const room = roomName('console');
  const server = run.server;
  const operator = await Client.open(run, 'operator', { url: `${server.baseUrl}/console` });
  const page = operator.page;

  // Logging in: a wrong secret is refused and shows nothing; the API key's credentials let in.
  await page.fill('#login-user', server.apiKeySid);
  await page.fill('#login-password', 'not-the-secret');
  await page.click('#login-button');
  await shows(page, '#notice:not([hidden])', 'a wrong secret is refused');
  check(/not this server's/.test(await page.textContent('#notice')), 'console: the refusal says why', await page.textContent('#notice'));
  check(await page.isHidden('#app'), 'console: nothing is shown before logging in');
  await page.fill('#login-password', server.apiKeySecret);
  await page.click('#login-button');
  await shows(page, '#app:not([hidden])', 'the API key logs in');
  equal(await page.textContent('#whoami'), server.apiKeySid, 'console: says who is logged in');

  // A participant joins with camera and microphone: the console shows the room, then her, live.
  const alice = await Client.open(run, 'alice');
  const joined = await alice.connect('alice', room, AV);
  const aliceSid = joined.localParticipant.sid;
  await shows(page, `#live-rooms button[data-name="${room}"]`, 'the new room is among the rooms in progress');
  await page.click(`#live-rooms button[data-name="${room}"]`);
  await shows(page, `#room-detail[data-sid="${joined.sid}"]:not([hidden])`, 'picking it shows the room alice is in');
  equal(await page.textContent('#room-name'), room, 'console: under its name');
  const aliceRow = `#participants tr[data-sid="${aliceSid}"]`;
  await shows(page, `${aliceRow}[data-status="connected"] .track[data-kind="video"]`, 'alice appears, connected, with her video');
  const shownTracks = await page.$$eval(`${aliceRow} .track`, (ts) => ts.map((t) => `${t.dataset.kind}:${t.dataset.name}`).sort());
  const published = joined.localParticipant.tracks.map((t) => `${t.kind}:${t.trackName}`).sort();
  check(JSON.stringify(shownTracks) === JSON.stringify(published), `console: alice's tracks are those she published (${published.join(', ')})`, shownTracks);
  equal(await page.textContent(`${aliceRow} .identity`), 'alice', 'console: under her identity');
  const firstDuration = await page.textContent(`${aliceRow} .duration`);
  await page.waitForFunction(
    ([row, before]) => { const d = document.querySelector(`${row} .duration`); return d && d.textContent !== before; },
    [aliceRow, firstDuration],
    { timeout: 5000 },
  ).catch(() => {});
  const laterDuration = await page.textContent(`${aliceRow} .duration`);
  check(laterDuration !== firstDuration && /^\d+s$/.test(laterDuration), `console: her duration counts up (${firstDuration} → ${laterDuration})`, laterDuration);

  // A token minted in the console joins the room.
  await page.fill('#token-identity', 'bob');
  await page.click('#mint-token');
  await shows(page, '#token-output:not([hidden])', 'mints a token');
  const bobToken = await page.inputValue('#token-output');
  const bob = await Client.open(run, 'bob');
  const bobJoined = await bob.connectWith(bobToken, room);
  check(bobJoined && !bobJoined.error && bobJoined.localParticipant.identity === 'bob' && bobJoined.sid === joined.sid, "bob: the console's token connects him to the room", bobJoined);
  const bobRow = `#participants tr[data-sid="${bobJoined.localParticipant.sid}"]`;
  await shows(page, `${bobRow}[data-status="connected"]`, 'bob appears beside alice');
  await page.waitForFunction((row) => document.querySelector(`${row} .receives`).textContent === '2', bobRow, { timeout: EVENT_TIMEOUT_MS }).catch(() => {});
  equal(await page.textContent(`${bobRow} .receives`), '2', "console: bob receives alice's two tracks");
  if (process.env.VROOM_CONSOLE_SCREENSHOT) {
    await page.screenshot({ path: process.env.VROOM_CONSOLE_SCREENSHOT });
    pass(`console: screenshot saved to ${process.env.VROOM_CONSOLE_SCREENSHOT}`);
  }

  // Kick alice: her client is disconnected with 53204, bob sees her go, the console says so.
  await page.click(`${aliceRow} .kick`);
  const kicked = await alice.waitEvent('disconnected', {}, "alice's room emits 'disconnected' after the kick");
  equal(kicked.error && kicked.error.code, 53204, "alice: the kick's error is 53204");
  await bob.waitEvent('participantDisconnected', { identity: 'alice' }, 'bob sees alice leave');
  await shows(page, `${aliceRow}[data-status="disconnected"]`, 'alice is shown disconnected');
  check(!(await page.$(`${aliceRow} .kick`)), 'console: no Kick button for someone who left');

  // Complete the room (after the confirmation): bob is disconnected, the room is a recent one.
  page.once('dialog', (dialog) => dialog.accept());
  await page.click('#complete-room');
  const ended = await bob.waitEvent('disconnected', {}, "bob's room emits 'disconnected' when the room is completed");
  equal(ended.error && ended.error.code, 53118, "bob: the room's end is 53118");
  await shows(page, `#recent-rooms button[data-name="${room}"]`, 'the room moves to the recent rooms');
  await shows(page, '#room-status.completed', 'the room shows completed');
  check(await page.isHidden('#complete-room'), 'console: a completed room cannot be completed again');

  await page.click('#logout');
  check(await page.isVisible('#login'), 'console: logging out shows the login again');
}

module.exports = {
  console: consoleScenario,
};
