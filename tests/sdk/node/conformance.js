// Conformance suite: Twilio's official Node helper library (twilio on npm, pinned in package.json and
// package-lock.json) against a running vroom.
//
// Environment: VROOM_BASE_URL (http://127.0.0.1:PORT), VROOM_ACCOUNT_SID, VROOM_AUTH_TOKEN,
// VROOM_API_KEY_SID, VROOM_API_KEY_SECRET. Prints one line per check and exits non-zero on the first
// failure. Run by tests/it/sdk.rs (`cargo test --test it sdk`); by hand:
//     node tests/sdk/node/conformance.js
'use strict';

// Region and edge settings make the library rewrite every host; the suite must talk to vroom.
delete process.env.TWILIO_REGION;
delete process.env.TWILIO_EDGE;

const assert = require('node:assert/strict');
const { randomUUID } = require('node:crypto');
const twilio = require('twilio');
const { Peer, track } = require('./peer');

const { AccessToken } = twilio.jwt;
const { VideoGrant } = AccessToken;

function env(name) {
  const value = process.env[name];
  if (!value) {
    console.log(`FAIL setup: the environment variable ${name} is not set`);
    process.exit(1);
  }
  return value;
}

const BASE = env('VROOM_BASE_URL').replace(/\/+$/, '');
const ACCOUNT_SID = env('VROOM_ACCOUNT_SID');
const AUTH_TOKEN = env('VROOM_AUTH_TOKEN');
const KEY_SID = env('VROOM_API_KEY_SID');
const KEY_SECRET = env('VROOM_API_KEY_SECRET');
const WS_URL = `ws${BASE.slice('http'.length)}/signaling`;
const WRONG_SECRET = 'this-is-not-the-secret-of-the-api-key';
// Names made unique per run, so the suite also works against a server that has seen other runs.
const RUN = randomUUID().slice(0, 8);

function client(user = KEY_SID, password = KEY_SECRET) {
  const c = twilio(user, password, { accountSid: ACCOUNT_SID });
  c.video.baseUrl = BASE;
  return c;
}

const API = client();
const ROOMS = API.video.v1.rooms;

/** Runs one check; prints `ok <name>` or the failure, and stops the suite on the first failure. */
async function check(name, fn, ...args) {
  try {
    const result = await fn(...args);
    console.log(`ok   ${name}`);
    return result;
  } catch (e) {
    console.log(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
    if (e instanceof twilio.RestException) console.log(`  RestException status=${e.status} code=${e.code} message=${e.message}`);
    process.exit(1);
  }
}

/** Awaits `promise`, which must reject with a RestException with this HTTP status and Twilio code. */
async function restError(promise, status, code) {
  let result;
  try {
    result = await promise;
  } catch (e) {
    assert.ok(e instanceof twilio.RestException, `expected a RestException, got ${e}`);
    assert.deepEqual({ status: e.status, code: e.code }, { status, code }, `RestException: ${e.message}`);
    return e;
  }
  throw new Error(`expected RestException ${status} / ${code}, but the call succeeded: ${JSON.stringify(result)}`);
}

function isDate(value) {
  return value instanceof Date && !Number.isNaN(value.getTime());
}

/** Polls `condition` until it returns a true value (state settles asynchronously). */
async function eventually(what, condition, wait = 10000) {
  const deadline = Date.now() + wait;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function token(identity, { room, secret = KEY_SECRET, algorithm, ttl = 3600, region } = {}) {
  const t = new AccessToken(ACCOUNT_SID, KEY_SID, secret, { identity, ttl, region });
  t.addGrant(new VideoGrant(room ? { room } : {}));
  return t.toJwt(algorithm);
}

/** Every SID of `sids` appears exactly once in `listed`, and `listed` has no duplicates. */
function once(sids, listed, what) {
  assert.equal(new Set(listed).size, listed.length, `${what}: a record came back twice: ${listed}`);
  const missing = sids.filter((s) => !listed.includes(s));
  assert.deepEqual(missing, [], `${what}: missing records`);
}

const sidsOf = (items) => items.map((i) => i.sid);

/** Collects records with the library's own `each`. */
function each(list, params) {
  return new Promise((resolve, reject) => {
    const seen = [];
    list.each({
      ...params,
      callback: (item) => seen.push(item.sid),
      done: (err) => (err ? reject(err) : resolve(seen)),
    });
  });
}

const DAY = 24 * 3600 * 1000;

// ---------------------------------------------------------------------------------------------------
// Credentials

async function wrongSecret() {
  const bad = client(KEY_SID, WRONG_SECRET);
  const e = await restError(bad.video.v1.rooms.create(), 401, 20003);
  await restError(bad.video.v1.rooms(`RM${'0'.repeat(32)}`).fetch(), 401, 20003);
  await restError(bad.video.v1.rooms.list(), 401, 20003);
  assert.match(e.message, /Authenticate/);
}

async function accountCredentials() {
  const c = client(ACCOUNT_SID, AUTH_TOKEN);
  const room = await c.video.v1.rooms.create();
  assert.equal(room.accountSid, ACCOUNT_SID);
  await c.video.v1.rooms(room.sid).update({ status: 'completed' });
}

// ---------------------------------------------------------------------------------------------------
// Rooms

const FULL_RULES = { rules: [{ type: 'include', all: true }, { type: 'exclude', kind: 'video' }] };

async function createFull() {
  const name = `node full ${RUN}`;
  const response = await ROOMS.createWithHttpInfo({
    enableTurn: true,
    type: 'group',
    uniqueName: name,
    statusCallback: 'http://127.0.0.1:9/status',
    statusCallbackMethod: 'GET',
    maxParticipants: 10,
    recordParticipantsOnConnect: true,
    transcribeParticipantsOnConnect: true,
    videoCodecs: ['VP8', 'H264'],
    mediaRegion: 'de1',
    recordingRules: FULL_RULES,
    transcriptionsConfiguration: { languageCode: 'en-US' },
    audioOnly: false,
    maxParticipantDuration: 600,
    emptyRoomTimeout: 1,
    unusedRoomTimeout: 60,
    largeRoom: false,
  });
  assert.equal(response.statusCode, 201, 'HTTP status');
  const r = response.body;
  assert.match(r.sid, /^RM[0-9a-f]{32}$/);
  assert.equal(r.status, 'in-progress');
  assert.equal(r.uniqueName, name);
  assert.equal(r.accountSid, ACCOUNT_SID);
  assert.equal(r.type, 'group');
  assert.equal(r.statusCallback, 'http://127.0.0.1:9/status');
  assert.equal(r.statusCallbackMethod, 'GET');
  assert.equal(r.maxParticipants, 10);
  assert.equal(r.recordParticipantsOnConnect, true);
  assert.deepEqual(r.videoCodecs, ['VP8', 'H264']);
  assert.equal(r.mediaRegion, 'de1');
  assert.equal(r.audioOnly, false);
  assert.equal(r.maxParticipantDuration, 600);
  assert.equal(r.emptyRoomTimeout, 1);
  assert.equal(r.unusedRoomTimeout, 60);
  assert.equal(r.largeRoom, false);
  assert.equal(r.enableTurn, true);
  assert.equal(typeof r.maxConcurrentPublishedTracks, 'number');
  assert.ok(isDate(r.dateCreated) && isDate(r.dateUpdated), `dates: ${r.dateCreated} ${r.dateUpdated}`);
  assert.equal(r.endTime, null);
  assert.equal(r.duration, null);
  assert.equal(r.url, `${BASE}/v1/Rooms/${r.sid}`);
  for (const link of ['participants', 'recordings', 'transcriptions', 'recording_rules']) {
    assert.ok((r.links[link] ?? '').startsWith(`${BASE}/v1/Rooms/${r.sid}/`), `links.${link}: ${JSON.stringify(r.links)}`);
  }
  const rules = await ROOMS(r.sid).recordingRules.fetch();
  assert.equal(rules.roomSid, r.sid);
  // The library wraps each rule in a class with every filter (unset ones undefined).
  assert.deepEqual(JSON.parse(JSON.stringify(rules.rules)), FULL_RULES.rules);
  return r;
}

async function createDefaults() {
  const r = await ROOMS.create();
  assert.equal(r.uniqueName, r.sid, 'unique_name of a room created without one');
  assert.equal(r.type, 'group');
  assert.equal(r.status, 'in-progress');
  assert.equal(r.statusCallback, null);
  assert.equal(r.statusCallbackMethod, 'POST');
  assert.equal(r.emptyRoomTimeout, 5);
  assert.equal(r.unusedRoomTimeout, 5);
  assert.equal(r.maxParticipantDuration, 14400);
  assert.equal(r.audioOnly, false);
  assert.equal(r.recordParticipantsOnConnect, false);
  return r;
}

async function createAudioOnly() {
  const r = await ROOMS.create({ uniqueName: `node audio ${RUN}`, audioOnly: true, videoCodecs: ['H264'], maxParticipants: 2 });
  assert.equal(r.audioOnly, true);
  assert.deepEqual(r.videoCodecs, ['H264']);
  assert.equal(r.maxParticipants, 2);
  return r;
}

async function fetchBySid(room) {
  const r = await ROOMS(room.sid).fetch();
  assert.equal(r.sid, room.sid);
  assert.equal(r.uniqueName, room.uniqueName);
  assert.deepEqual(r.videoCodecs, room.videoCodecs);
  assert.equal(r.dateCreated.getTime(), room.dateCreated.getTime());
  // The instance's own fetch goes through its context.
  assert.equal((await r.fetch()).sid, room.sid);
}

async function fetchByName(room) {
  assert.equal((await ROOMS(room.uniqueName).fetch()).sid, room.sid, 'fetched by UniqueName (with spaces)');
  const odd = await ROOMS.create({ uniqueName: `node c++ & ünïcødé ${RUN}` });
  assert.equal((await ROOMS(odd.uniqueName).fetch()).sid, odd.sid, 'fetched by a UniqueName with + & and non-ASCII');
  assert.deepEqual(sidsOf(await ROOMS.list({ uniqueName: odd.uniqueName })), [odd.sid], 'listed by that UniqueName');
  await ROOMS(odd.sid).update({ status: 'completed' });
}

async function listFilters(full, plain, audio) {
  once([full.sid, plain.sid, audio.sid], sidsOf(await ROOMS.list()), 'default list (in-progress)');
  assert.deepEqual(sidsOf(await ROOMS.list({ uniqueName: full.uniqueName })), [full.sid], 'UniqueName filter');
  assert.deepEqual(sidsOf(await ROOMS.list({ status: 'in-progress', uniqueName: audio.uniqueName })), [audio.sid], 'Status+UniqueName');
  assert.ok(!sidsOf(await ROOMS.list({ status: 'completed' })).includes(full.sid), 'an in-progress room listed as completed');
  once([full.sid, plain.sid, audio.sid], sidsOf(await ROOMS.list({ dateCreatedAfter: full.dateCreated })), 'DateCreatedAfter (inclusive)');
  const later = new Date(full.dateCreated.getTime() + DAY);
  assert.deepEqual(await ROOMS.list({ dateCreatedAfter: later }), [], 'DateCreatedAfter tomorrow');
  assert.deepEqual(await ROOMS.list({ dateCreatedBefore: new Date(Date.UTC(2001, 0, 1)) }), [], 'DateCreatedBefore 2001');
  once([full.sid], sidsOf(await ROOMS.list({ dateCreatedBefore: later })), 'DateCreatedBefore tomorrow');
  const window = await ROOMS.list({ dateCreatedAfter: new Date(full.dateCreated.getTime() - 1000), dateCreatedBefore: later, uniqueName: full.uniqueName });
  assert.deepEqual(sidsOf(window), [full.sid], 'both date filters with UniqueName');
}

async function pagingRooms() {
  const made = [];
  for (let i = 0; i < 7; i++) made.push((await ROOMS.create({ uniqueName: `node page ${RUN} ${i}` })).sid);
  const listed = sidsOf(await ROOMS.list({ pageSize: 2 }));
  once(made, listed, 'list({pageSize: 2})');
  const eached = await each(ROOMS, { pageSize: 2 });
  once(made, eached, 'each({pageSize: 2})');
  assert.deepEqual(eached, listed, 'each and list agree');
  assert.equal((await ROOMS.list({ pageSize: 2, limit: 3 })).length, 3, 'list({pageSize: 2, limit: 3})');
  once(made, sidsOf(await ROOMS.list({ pageSize: 2, dateCreatedAfter: new Date(Date.now() - DAY) })), 'DateCreatedAfter over pages');
  // Walk the pages by hand: absolute next/previous URLs on this server, and back again.
  const first = await ROOMS.page({ pageSize: 2 });
  assert.equal(first.instances.length, 2, 'first page size');
  assert.ok(first.nextPageUrl?.startsWith(`${BASE}/v1/Rooms?`), `nextPageUrl ${first.nextPageUrl}`);
  assert.equal(first.previousPageUrl ?? null, null, 'previousPageUrl of the first page');
  const second = await first.nextPage();
  assert.equal(second.instances.length, 2, 'second page size');
  assert.ok(second.previousPageUrl?.startsWith(`${BASE}/v1/Rooms?`), `previousPageUrl ${second.previousPageUrl}`);
  const back = await second.previousPage();
  assert.deepEqual(sidsOf(back.instances), sidsOf(first.instances), 'previousPage of page 2');
  const walked = [...sidsOf(first.instances), ...sidsOf(second.instances)];
  let page = second;
  let pages = 2;
  while (page.nextPageUrl) {
    page = await page.nextPage();
    walked.push(...sidsOf(page.instances));
    pages += 1;
  }
  assert.deepEqual(walked, listed, 'records walked page by page');
  // And back from the last page to the first through previousPageUrl.
  let backwards = sidsOf(page.instances);
  while (page.previousPageUrl) {
    page = await page.previousPage();
    backwards = [...sidsOf(page.instances), ...backwards];
  }
  assert.deepEqual(backwards, listed, 'records walked back with previousPage');
  assert.ok(pages >= 5, `${listed.length} rooms in pages of 2 should take at least 5 pages, took ${pages}`);
  // A page URL handed out by the server can be fetched directly too.
  const again = await ROOMS.getPage(first.nextPageUrl);
  assert.deepEqual(sidsOf(again.instances), sidsOf(second.instances), 'getPage(nextPageUrl)');
  return made;
}

async function complete() {
  const room = await ROOMS.create({ uniqueName: `node done ${RUN}` });
  const response = await ROOMS(room.sid).updateWithHttpInfo({ status: 'completed' });
  assert.equal(response.statusCode, 202, 'HTTP status');
  const r = response.body;
  assert.equal(r.status, 'completed');
  assert.ok(isDate(r.endTime), `endTime ${r.endTime}`);
  assert.ok(Number.isInteger(r.duration) && r.duration >= 0, `duration ${r.duration}`);
  assert.equal((await ROOMS(room.sid).fetch()).status, 'completed', 'status fetched by SID');
  await restError(ROOMS(room.uniqueName).fetch(), 404, 20404);
  return r;
}

async function reuseName(room) {
  const again = await ROOMS.create({ uniqueName: room.uniqueName });
  assert.notEqual(again.sid, room.sid, 'a new room gets a new SID');
  assert.equal((await ROOMS(room.uniqueName).fetch()).sid, again.sid, 'the name now means the new room');
}

async function pagingCompleted(made) {
  for (const sid of made) await ROOMS(sid).update({ status: 'completed' });
  once(made, await each(ROOMS, { status: 'completed', pageSize: 2 }), "each({status: 'completed', pageSize: 2})");
  once(made, sidsOf(await ROOMS.list({ status: 'completed', pageSize: 3 })), "list({status: 'completed', pageSize: 3})");
  const byName = await ROOMS.list({ status: 'completed', uniqueName: `node page ${RUN} 3`, pageSize: 1 });
  assert.deepEqual(sidsOf(byName), [made[3]], 'completed by UniqueName');
  const inProgress = sidsOf(await ROOMS.list({ pageSize: 2 }));
  assert.ok(!made.some((s) => inProgress.includes(s)), 'completed rooms listed as in-progress');
}

async function roomErrors(full, completed) {
  await restError(ROOMS.create({ uniqueName: full.uniqueName }), 400, 53113);
  await restError(ROOMS.create({ type: 'huge' }), 400, 53108);
  await restError(ROOMS.create({ maxParticipants: 51 }), 400, 53107);
  await restError(ROOMS.create({ maxParticipants: 0 }), 400, 53107);
  await restError(ROOMS.create({ emptyRoomTimeout: 0 }), 400, 53109);
  await restError(ROOMS.create({ unusedRoomTimeout: 61 }), 400, 53109);
  await restError(ROOMS.create({ statusCallbackMethod: 'PUT' }), 400, 53110);
  await restError(ROOMS.create({ statusCallback: 'not a url' }), 400, 53111);
  await restError(ROOMS.create({ mediaRegion: 'mars1' }), 400, 53115);
  await restError(ROOMS.create({ recordingRules: { rules: [] } }), 400, 53120);
  await restError(ROOMS.create({ maxParticipantDuration: 10 }), 400, 53123);
  const missing = `RM${'f'.repeat(32)}`;
  const e = await restError(ROOMS(missing).fetch(), 404, 20404);
  assert.ok(e.message.includes(`/Rooms/${missing}`), `404 message names the path: ${e.message}`);
  assert.equal(e.moreInfo, 'https://www.twilio.com/docs/errors/20404');
  await restError(ROOMS(`node nobody ${RUN}`).fetch(), 404, 20404);
  await restError(ROOMS(missing).update({ status: 'completed' }), 404, 20404);
  await restError(ROOMS(full.sid).update({ status: 'in-progress' }), 400, 53112);
  await restError(ROOMS(completed.sid).update({ status: 'completed' }), 400, 53112);
  // In this library a failed list page is a RestException too.
  await restError(ROOMS.list({ status: 'bogus' }), 400, 20001);
}

// ---------------------------------------------------------------------------------------------------
// Participants

async function connectPeer(identity, roomName, options = {}, tracks = []) {
  const peer = await Peer.connect(WS_URL, token(identity, options), roomName, tracks);
  assert.equal(peer.answer.type, 'connected', `${identity} could not connect: ${JSON.stringify(peer.answer)}`);
  assert.match(peer.sid, /^PA[0-9a-f]{32}$/);
  assert.equal(peer.answer.participant.identity, identity);
  return peer;
}

async function tokensAccepted(room) {
  const alice = await connectPeer('alice', room.uniqueName, { room: room.uniqueName }, [track('a1', 'audio', 'mic'), track('v1', 'video', 'cam')]);
  assert.equal(alice.answer.sid, room.sid, 'room sid in connected');
  const bob = await connectPeer('bob', room.uniqueName, { algorithm: 'HS512' });
  const carol = await connectPeer('carol', room.uniqueName, { algorithm: 'HS384', room: room.uniqueName, region: 'ie1' });
  return { alice, bob, carol };
}

async function tokensRefused(room) {
  let peer = await Peer.connect(WS_URL, token('mallory', { secret: WRONG_SECRET }), room.uniqueName);
  await peer.close();
  assert.deepEqual([peer.answer.type, peer.answer.code], ['error', 20107], 'a token signed with the wrong secret');
  peer = await Peer.connect(WS_URL, token('mallory', { room: `node other ${RUN}` }), room.uniqueName);
  await peer.close();
  assert.equal(peer.answer.type, 'error', 'a token granted for another room');
  peer = await Peer.connect(WS_URL, token('mallory', { ttl: -3600 }), room.uniqueName);
  await peer.close();
  assert.deepEqual([peer.answer.type, peer.answer.code], ['error', 20104], 'an expired token');
  peer = await Peer.connect(WS_URL, token('mallory', { ttl: 2 * 86400, algorithm: 'HS512' }), room.uniqueName);
  await peer.close();
  assert.equal(peer.answer.type, 'error', 'a token valid for more than 24 hours');
  assert.ok([20104, 20157].includes(peer.answer.code), `error code ${peer.answer.code}`);
}

async function participantsList(room, { alice, bob, carol }) {
  const parts = ROOMS(room.sid).participants;
  const connected = await parts.list();
  assert.deepEqual(connected.map((p) => p.identity).sort(), ['alice', 'bob', 'carol'], 'default list (connected)');
  assert.equal(connected.find((p) => p.identity === 'alice').sid, alice.sid);
  assert.deepEqual(sidsOf(await parts.list({ identity: 'bob' })), [bob.sid], 'Identity filter');
  assert.deepEqual(sidsOf(await parts.list({ status: 'connected', identity: 'alice' })), [alice.sid], 'Status+Identity');
  assert.deepEqual(await parts.list({ status: 'disconnected' }), [], 'Status=disconnected before anyone left');
  const created = connected.find((p) => p.identity === 'alice').dateCreated;
  const all = [alice.sid, bob.sid, carol.sid];
  once(all, sidsOf(await parts.list({ dateCreatedAfter: new Date(created.getTime() - 1000) })), 'DateCreatedAfter');
  assert.deepEqual(await parts.list({ dateCreatedBefore: new Date(Date.UTC(2001, 0, 1)) }), [], 'DateCreatedBefore 2001');
  assert.deepEqual(await parts.list({ dateCreatedAfter: new Date(created.getTime() + DAY) }), [], 'DateCreatedAfter tomorrow');
  once(all, sidsOf(await parts.list({ dateCreatedBefore: new Date(created.getTime() + DAY), pageSize: 1 })), 'DateCreatedBefore tomorrow, pageSize 1');
  once(all, sidsOf(await ROOMS(room.uniqueName).participants.list({ pageSize: 1 })), "list({pageSize: 1}) through the room's UniqueName");
}

async function participantFetch(room, alice) {
  const p = await ROOMS(room.sid).participants(alice.sid).fetch();
  assert.equal(p.sid, alice.sid);
  assert.equal(p.identity, 'alice');
  assert.equal(p.roomSid, room.sid);
  assert.equal(p.accountSid, ACCOUNT_SID);
  assert.equal(p.status, 'connected');
  assert.ok(isDate(p.startTime) && isDate(p.dateCreated), `dates: ${p.startTime} ${p.dateCreated}`);
  assert.equal(p.endTime, null);
  assert.equal(p.duration, null);
  assert.equal(p.url, `${BASE}/v1/Rooms/${room.sid}/Participants/${alice.sid}`);
  for (const link of ['published_tracks', 'subscribed_tracks', 'subscribe_rules', 'anonymize']) {
    assert.ok((p.links[link] ?? '').startsWith(`${p.url}/`), `links.${link}: ${JSON.stringify(p.links)}`);
  }
  assert.equal((await ROOMS(room.uniqueName).participants('alice').fetch()).sid, alice.sid, 'fetched by identity');
  await restError(ROOMS(room.sid).participants('nobody').fetch(), 404, 20404);
  await restError(ROOMS(room.sid).participants(`PA${'0'.repeat(32)}`).fetch(), 404, 20404);
}

async function publishedTracks(room, { alice, bob }) {
  const tracks = ROOMS(room.sid).participants(alice.sid).publishedTracks;
  const listed = Object.fromEntries((await tracks.list()).map((t) => [t.name, t]));
  assert.deepEqual(Object.keys(listed).sort(), ['cam', 'mic'], 'published track names');
  assert.equal(listed.mic.kind, 'audio');
  assert.equal(listed.cam.kind, 'video');
  assert.equal(listed.mic.sid, alice.published.a1, 'mic SID matches the one signaling gave');
  for (const t of Object.values(listed)) {
    assert.match(t.sid, /^MT[0-9a-f]{32}$/);
    assert.equal(t.participantSid, alice.sid);
    assert.equal(t.roomSid, room.sid);
    assert.equal(t.enabled, true);
    assert.ok(isDate(t.dateCreated), `dateCreated ${t.dateCreated}`);
    assert.equal(t.url, `${BASE}/v1/Rooms/${room.sid}/Participants/${alice.sid}/PublishedTracks/${t.sid}`);
  }
  assert.equal((await tracks(listed.cam.sid).fetch()).name, 'cam', 'fetch by track SID');
  assert.equal((await ROOMS(room.uniqueName).participants('alice').publishedTracks('mic').fetch()).sid, listed.mic.sid, 'fetch by track name');
  once(sidsOf(Object.values(listed)), await each(tracks, { pageSize: 1 }), 'each({pageSize: 1})');
  assert.deepEqual(await ROOMS(room.sid).participants(bob.sid).publishedTracks.list(), [], 'bob publishes nothing');
  await restError(tracks(`MT${'0'.repeat(32)}`).fetch(), 404, 20404);
}

async function kick(room, bob) {
  const response = await ROOMS(room.sid).participants(bob.sid).updateWithHttpInfo({ status: 'disconnected' });
  assert.equal(response.statusCode, 202, 'HTTP status');
  assert.equal(response.body.status, 'disconnected');
  const ending = await bob.ending();
  assert.deepEqual([ending.type, ending.code], ['error', 53204], 'signaling message sent to the kicked participant');
  await bob.waitClosed(); // the server closes the connection itself after a short grace
  const p = await ROOMS(room.sid).participants(bob.sid).fetch();
  assert.equal(p.status, 'disconnected');
  assert.ok(isDate(p.endTime), `endTime ${p.endTime}`);
  assert.ok(Number.isInteger(p.duration) && p.duration >= 0, `duration ${p.duration}`);
  await restError(ROOMS(room.sid).participants('bob').fetch(), 404, 20404);
  assert.deepEqual(sidsOf(await ROOMS(room.sid).participants.list({ status: 'disconnected' })), [bob.sid], 'Status=disconnected');
  assert.deepEqual((await ROOMS(room.sid).participants.list()).map((p) => p.identity).sort(), ['alice', 'carol'], 'connected after the kick');
}

async function participantErrors(room, alice) {
  await restError(ROOMS(room.sid).participants(alice.sid).update({ status: 'connected' }), 400, 53209);
  await restError(ROOMS(room.sid).participants('nobody').update({ status: 'disconnected' }), 404, 20404);
  await restError(ROOMS(room.sid).participants(alice.sid).anonymize().update(), 400, 53209);
  await restError(ROOMS(`RM${'e'.repeat(32)}`).participants('alice').fetch(), 404, 20404);
  await restError(ROOMS(`RM${'e'.repeat(32)}`).participants.list(), 404, 20404);
}

async function anonymize(room, bob) {
  const response = await ROOMS(room.sid).participants(bob.sid).anonymize().updateWithHttpInfo();
  assert.equal(response.statusCode, 200, 'HTTP status');
  const a = response.body;
  assert.equal(a.sid, bob.sid);
  assert.equal(a.identity, bob.sid, 'identity replaced by the SID');
  assert.equal(a.status, 'disconnected');
  assert.ok(a.url.endsWith(`/Participants/${bob.sid}/Anonymize`), `url ${a.url}`);
  assert.equal((await ROOMS(room.sid).participants(bob.sid).fetch()).identity, bob.sid, 'identity after anonymize');
}

async function pagingParticipants(room, { alice, carol }) {
  const peers = [];
  for (let i = 0; i < 5; i++) peers.push(await connectPeer(`pager-${i}`, room.uniqueName));
  const want = [alice.sid, carol.sid, ...peers.map((p) => p.sid)];
  const parts = ROOMS(room.sid).participants;
  const listed = sidsOf(await parts.list({ pageSize: 2 }));
  once(want, listed, 'participants list({pageSize: 2})');
  assert.equal(listed.length, 7, 'connected participants');
  once(want, await each(parts, { pageSize: 2 }), 'participants each({pageSize: 2})');
  once(want, await each(parts, { status: 'connected', pageSize: 3 }), "participants each({status: 'connected', pageSize: 3})");
  return peers;
}

async function leave(room, peer) {
  await peer.leave();
  await eventually('the participant who left is disconnected', async () => (await ROOMS(room.sid).participants(peer.sid).fetch()).status === 'disconnected');
  await restError(ROOMS(room.sid).participants('pager-0').fetch(), 404, 20404);
}

async function oddIdentity(room) {
  const identity = 'zoë & co+1';
  const peer = await connectPeer(identity, room.uniqueName, {}, [track('s1', 'audio', 'my mic')]);
  try {
    const parts = ROOMS(room.sid).participants;
    assert.equal((await parts(identity).fetch()).sid, peer.sid, 'fetched by an identity with spaces, & and +');
    assert.deepEqual(sidsOf(await parts.list({ identity })), [peer.sid], 'Identity filter');
    assert.equal((await parts(identity).publishedTracks('my mic').fetch()).sid, peer.published.s1, 'track fetched by a name with a space');
  } finally {
    await peer.leave();
  }
  await eventually('the participant who left is disconnected', async () => (await ROOMS(room.sid).participants(peer.sid).fetch()).status === 'disconnected');
}

async function duplicateIdentity(room) {
  const first = await connectPeer('twin', room.uniqueName);
  const second = await connectPeer('twin', room.uniqueName);
  try {
    const ending = await first.ending();
    assert.deepEqual([ending.type, ending.code], ['error', 53205], 'signaling message to the participant taken over');
    await first.leave();
    const parts = ROOMS(room.sid).participants;
    await eventually('the first twin is disconnected', async () => (await parts(first.sid).fetch()).status === 'disconnected');
    assert.equal((await parts('twin').fetch()).sid, second.sid, 'fetch by identity finds the connected one');
    assert.deepEqual(sidsOf(await parts.list({ identity: 'twin' })), [second.sid], 'Identity filter (connected by default)');
    assert.deepEqual(sidsOf(await parts.list({ identity: 'twin', status: 'disconnected' })), [first.sid], 'Identity+Status=disconnected');
  } finally {
    await second.leave();
  }
  await eventually('the second twin is disconnected', async () => (await ROOMS(room.sid).participants(second.sid).fetch()).status === 'disconnected');
}

async function completeWithParticipants(room, peers) {
  await ROOMS(room.sid).update({ status: 'completed' });
  for (const peer of peers) {
    const ending = await peer.ending();
    // twilio-video.js turns this into RoomCompletedError (53118), then says goodbye.
    assert.deepEqual([ending.type, ending.status], ['disconnected', 'completed'], 'signaling message when the room completes');
    await peer.leave();
  }
  const parts = ROOMS(room.sid).participants;
  assert.equal((await parts.list({ pageSize: 2 })).length, 11, 'a completed room lists its (disconnected) participants');
  assert.equal((await each(parts, { status: 'disconnected', pageSize: 3 })).length, 11, "each({status: 'disconnected', pageSize: 3})");
  assert.ok((await parts.list()).every((p) => p.status === 'disconnected'), 'everyone is disconnected');
  assert.deepEqual(await parts.list({ status: 'connected' }), [], 'Status=connected of a completed room');
}

async function main() {
  console.log(`twilio-node against ${BASE}`);
  await check('credentials: a wrong API key secret is refused (RestException 401 / 20003)', wrongSecret);
  await check('credentials: the account SID and auth token work as well as the API key', accountCredentials);
  const full = await check('rooms: create with every parameter (201, every field read back)', createFull);
  const plain = await check("rooms: create with no parameters gets Twilio's defaults", createDefaults);
  const audio = await check('rooms: create an audio-only room', createAudioOnly);
  await check('rooms: fetch by SID', fetchBySid, full);
  await check('rooms: fetch by UniqueName (spaces, +, &, non-ASCII)', fetchByName, full);
  await check('rooms: list with Status, UniqueName, DateCreatedAfter and DateCreatedBefore', listFilters, full, plain, audio);
  const made = await check('rooms: paging over several pages (list, each, page, nextPage, previousPage, getPage)', pagingRooms);
  const done = await check('rooms: update Status=completed (202); fetch by name then 404s', complete);
  await check('rooms: paging with Status=completed carries the filter to every page', pagingCompleted, made);
  await check("rooms: a completed room's UniqueName can be used again", reuseName, done);
  await check('rooms: errors (53113, 53108, 53107, 53109, 53110, 53111, 53115, 53120, 53123, 20404, 53112, 20001)', roomErrors, full, done);

  const room = await ROOMS.create({ uniqueName: `node participants ${RUN}` });
  const peers = await check('tokens: AccessToken + VideoGrant (HS256, HS512, HS384; with and without a room, with a region) accepted at /signaling', tokensAccepted, room);
  await check('tokens: a token with a wrong signature, another room, expired or too long-lived is refused', tokensRefused, room);
  await check('participants: list with Status, Identity, DateCreatedAfter and DateCreatedBefore', participantsList, room, peers);
  await check('participants: fetch by SID and by identity', participantFetch, room, peers.alice);
  await check('published tracks: list and fetch by SID and by name', publishedTracks, room, peers);
  await check('participants: kick with Status=disconnected (202, client told 53204)', kick, room, peers.bob);
  await check('participants: errors (53209, 20404)', participantErrors, room, peers.alice);
  await check('participants: anonymize a disconnected participant (200)', anonymize, room, peers.bob);
  const pagers = await check('participants: paging over several pages', pagingParticipants, room, peers);
  await check('participants: a participant who leaves is disconnected', leave, room, pagers[0]);
  await check('participants: identities and track names with spaces, &, + and non-ASCII', oddIdentity, room);
  await check('participants: a second connection with the same identity takes over (53205)', duplicateIdentity, room);
  await check('rooms: completing a room disconnects everyone (client told it completed)', completeWithParticipants, room, [peers.alice, peers.carol, ...pagers.slice(1)]);
  console.log('node conformance: all checks passed');
}

main().catch((e) => {
  console.log(`FAIL: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
