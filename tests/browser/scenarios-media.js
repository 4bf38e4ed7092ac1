// Browser scenarios with media: audio, video and data flowing through vroom's SFU, subscriptions,
// renegotiations and resuming after a lost signaling connection.

'use strict';

const {
  AV,
  Client,
  EVENT_TIMEOUT_MS,
  check,
  equal,
  eventually,
  expectParticipantStatus,
  localSid,
  receives,
  rest,
  restSubscribed,
  roomName,
  sidPattern,
  startRelay,
  until,
} = require('./lib');

// The description of peer connection `pcId` of `type` ('offer' or 'answer') an RSP message carries.
function described(message, pcId, type) {
  const entry = message && (message.peer_connections || []).find((p) => p.id === pcId && p.description && p.description.type === type);
  return entry && entry.description;
}

// Alice, whose signaling goes through a relay that can hold back or cut it, and bob: both publish
// audio and video and receive each other's.
async function aliceThroughRelayAndBob(run, name) {
  const relay = await startRelay();
  run.cleanups.push(() => relay.close());
  const a = await Client.open(run, 'A');
  const b = await Client.open(run, 'B');
  const ra = await a.connect('alice', name, Object.assign({ wsServer: relay.url }, AV));
  const rb = await b.connect('bob', name, AV);
  const [aTracks, bTracks] = [ra, rb].map((r) => [localSid(r, 'audio'), localSid(r, 'video')]);
  await receives(a, bTracks, 'bob');
  await receives(b, aTracks, 'alice');
  return { relay, a, b, aTracks, bTracks };
}

// Pages join `name` one after another with `options`; after each join every page shows every other
// page's camera within 2 s of subscribing to it. Returns the pages.
async function joinOneByOne(run, name, options, people) {
  const pages = [];
  for (const [label, identity] of people) {
    const client = await Client.open(run, label);
    const summary = await client.connect(identity, name, Object.assign({}, AV, options));
    const me = { client, identity, cam: localSid(summary, 'video') };
    pages.push(me);
    for (const page of pages) {
      const others = pages.filter((o) => o !== page);
      for (const o of others) {
        await page.client.waitEvent('trackSubscribed', { trackSid: o.cam }, `subscribed to ${o.identity}'s camera`);
      }
      if (others.length) {
        await page.client.renders(others.map((o) => o.cam), 2000, `shows ${others.map((o) => o.identity).join(', ')}'s cameras`);
      }
    }
  }
  return pages;
}

module.exports = {
  // Four pages with twilio-video.js's adaptive simulcast setting (`preferredVideoCodecs: 'auto'`, the
  // reference app's default: the first offer carries three simulcast SSRCs, and with no publisher
  // hints the client falls back to one), each joining after the others publish: every page shows
  // every other page's camera within 2 s of subscribing. Then a camera is unpublished and a new one
  // published: it shows everywhere within 2 s, and so does a camera restarted in place.
  late_joiners_auto: {
    solo: true,
    async run(run) {
      const name = roomName('late-auto');
      const pages = await joinOneByOne(run, name, { preferredVideoCodecs: 'auto' }, [['A', 'alice'], ['B', 'bob'], ['C', 'carol'], ['D', 'dave']]);
      const [a, ...rest] = pages;
      const seqs = await Promise.all(rest.map((p) => p.client.lastSeq()));
      check((await a.client.unpublish(a.cam)) === true, 'A: unpublishTrack() on its camera');
      const pub = await a.client.publish('video', 'camera-again');
      check(pub && !pub.error && sidPattern('MT').test(pub.trackSid), 'A: publishTrack() of a new camera resolves with an MT SID', pub);
      for (const [i, p] of rest.entries()) {
        await p.client.waitEvent('trackSubscribed', { trackSid: pub.trackSid }, "subscribed to alice's new camera", seqs[i]);
        await p.client.renders([pub.trackSid], 2000, "shows alice's new camera");
      }
      // Frames stop while the capture restarts: every page sees new frames within 2 s of the restart.
      check((await a.client.restart(pub.trackSid)) === true, 'A: stop() and restart() of the new camera');
      for (const p of rest) {
        await p.client.rendersAgain(pub.trackSid, 10, 2000, "shows alice's restarted camera");
      }
    },
  },

  // Three pages with simulcast asked for explicitly (`[{ codec: 'VP8', simulcast: true }]`: three
  // layers really sent): each shows the others' cameras within 2 s of subscribing.
  simulcast_vp8: {
    solo: true,
    async run(run) {
      await joinOneByOne(run, roomName('simulcast'), { preferredVideoCodecs: [{ codec: 'VP8', simulcast: true }] }, [['A', 'alice'], ['B', 'bob'], ['C', 'carol']]);
    },
  },

  // Two pages publish camera and microphone; each receives the other's and media flows.
  async media_two(run) {
    const name = roomName('media-two');
    const a = await Client.open(run, 'A');
    const b = await Client.open(run, 'B');
    const ra = await a.connect('alice', name, { audio: true, video: { width: 320, height: 240 } });
    const rb = await b.connect('bob', name, { audio: true, video: { width: 320, height: 240 } });
    const aTracks = ra.localParticipant.tracks.map((t) => t.trackSid);
    const bTracks = rb.localParticipant.tracks.map((t) => t.trackSid);
    equal(aTracks.length + bTracks.length, 4, 'both publish a microphone and a camera');
    for (const [client, tracks, who] of [[a, bTracks, 'bob'], [b, aTracks, 'alice']]) {
      for (const sid of tracks) {
        await client.waitEvent('trackSubscribed', { trackSid: sid }, `subscribed to ${who}'s ${sid}`);
      }
      await client.mediaFlows(tracks, `receives ${who}'s audio and video`);
    }
  },

  // Three pages publish camera and microphone; each receives the other two's tracks and media flows
  // on all four.
  async media_three(run) {
    const name = roomName('media-three');
    const pages = [];
    for (const [label, identity] of [['A', 'alice'], ['B', 'bob'], ['C', 'carol']]) {
      const client = await Client.open(run, label);
      const summary = await client.connect(identity, name, AV);
      pages.push({ client, identity, tracks: [localSid(summary, 'audio'), localSid(summary, 'video')] });
    }
    for (const me of pages) {
      const others = pages.filter((p) => p !== me);
      for (const o of others) {
        for (const sid of o.tracks) {
          await me.client.waitEvent('trackSubscribed', { trackSid: sid, participant: o.identity }, `subscribed to ${o.identity}'s ${sid}`);
        }
      }
      await me.client.mediaFlows(others.flatMap((o) => o.tracks), `receives ${others.map((o) => o.identity).join("'s and ")}'s audio and video`);
    }
  },

  // A unpublishes its camera: B loses it (trackUnsubscribed, trackUnpublished) while A's microphone
  // keeps flowing; A then publishes a new camera mid-call and B receives it.
  async unpublish(run) {
    const name = roomName('unpublish');
    const a = await Client.open(run, 'A');
    const b = await Client.open(run, 'B');
    const ra = await a.connect('alice', name, AV);
    const rb = await b.connect('bob', name, AV);
    const [mic, cam] = [localSid(ra, 'audio'), localSid(ra, 'video')];
    await receives(b, [mic, cam], 'alice');
    await receives(a, [localSid(rb, 'audio'), localSid(rb, 'video')], 'bob');

    const before = await b.lastSeq();
    check((await a.unpublish(cam)) === true, 'A: unpublishTrack() on its camera');
    await b.waitEvent('trackUnsubscribed', { trackSid: cam, kind: 'video' }, "'trackUnsubscribed' for alice's camera", before);
    await b.waitEvent('trackUnpublished', { trackSid: cam, kind: 'video' }, "'trackUnpublished' for alice's camera", before);
    await b.mediaFlows([mic], "still receives alice's microphone");
    const still = (await b.summary()).participants.find((p) => p.identity === 'alice');
    equal(still && still.tracks.map((t) => t.trackSid).join(','), mic, "B's alice publishes only her microphone");

    const pub = await a.publish('video', 'new-camera');
    check(pub && !pub.error && sidPattern('MT').test(pub.trackSid) && pub.trackSid !== cam, 'A: publishTrack() of a new camera resolves with a new MT SID', pub);
    await b.waitEvent('trackPublished', { trackSid: pub.trackSid, kind: 'video' }, "'trackPublished' for the new camera", before);
    await b.waitEvent('trackSubscribed', { trackSid: pub.trackSid, kind: 'video' }, "'trackSubscribed' for the new camera", before);
    await b.mediaFlows([pub.trackSid, mic], "receives alice's new camera and her microphone");
    await a.mediaFlows([localSid(rb, 'audio'), localSid(rb, 'video')], "still receives bob's audio and video");

    // A second camera finds no free video transceiver of A's own: twilio-video.js recycles the one
    // the server made to send bob's camera (it becomes sendrecv). Both directions must keep working.
    const second = await a.publish('video', 'second-camera');
    check(second && !second.error && sidPattern('MT').test(second.trackSid), 'A: publishTrack() of a second camera resolves with an MT SID', second);
    await b.waitEvent('trackSubscribed', { trackSid: second.trackSid, kind: 'video' }, "'trackSubscribed' for the second camera", before);
    await b.mediaFlows([second.trackSid, pub.trackSid, mic], "receives both of alice's cameras and her microphone");
    await a.mediaFlows([localSid(rb, 'audio'), localSid(rb, 'video')], "still receives bob's audio and video");

    // Unpublishing the camera on the recycled m-line leaves bob's camera flowing to A on it.
    const seq = await b.lastSeq();
    check((await a.unpublish(second.trackSid)) === true, 'A: unpublishTrack() on the second camera');
    await b.waitEvent('trackUnsubscribed', { trackSid: second.trackSid }, "'trackUnsubscribed' for the second camera", seq);
    await b.waitEvent('trackUnpublished', { trackSid: second.trackSid }, "'trackUnpublished' for the second camera", seq);
    await b.mediaFlows([pub.trackSid, mic], "still receives alice's new camera and her microphone");
    await a.mediaFlows([localSid(rb, 'audio'), localSid(rb, 'video')], "still receives bob's audio and video");
    const lost = (await a.events()).filter((e) => e.type === 'trackUnsubscribed');
    equal(lost.length, 0, 'A never lost a track of bob');
  },

  // C leaves: A and B see it go (participantDisconnected, trackUnsubscribed for its tracks) and keep
  // receiving each other.
  async leave(run) {
    const name = roomName('leave');
    const a = await Client.open(run, 'A');
    const b = await Client.open(run, 'B');
    const c = await Client.open(run, 'C');
    const ra = await a.connect('alice', name, AV);
    const rb = await b.connect('bob', name, AV);
    const rc = await c.connect('carol', name, AV);
    const [aTracks, bTracks, cTracks] = [ra, rb, rc].map((r) => [localSid(r, 'audio'), localSid(r, 'video')]);
    await receives(a, [...bTracks, ...cTracks], 'bob and carol');
    await receives(b, [...aTracks, ...cTracks], 'alice and carol');

    const seqs = [await a.lastSeq(), await b.lastSeq()];
    await c.disconnect();
    const d = await c.waitEvent('disconnected', {}, "room.disconnect() emits 'disconnected'");
    equal(d.error, null, "C's 'disconnected' carries no error");
    for (const [client, after] of [[a, seqs[0]], [b, seqs[1]]]) {
      await client.waitEvent('participantDisconnected', { identity: 'carol', sid: rc.localParticipant.sid }, "'participantDisconnected' for carol", after);
      for (const sid of cTracks) {
        await client.waitEvent('trackUnsubscribed', { trackSid: sid, participant: 'carol' }, `'trackUnsubscribed' for carol's ${sid}`, after);
      }
    }
    await a.mediaFlows(bTracks, "still receives bob's audio and video");
    await b.mediaFlows(aTracks, "still receives alice's audio and video");
    await expectParticipantStatus(ra.sid, rc.localParticipant.sid, 'disconnected', 'carol');
    for (const client of [a, b]) {
      equal((await client.summary()).participants.map((p) => p.identity).sort().join(','), client === a ? 'bob' : 'alice', `${client.label}'s room.participants no longer holds carol`);
    }
  },

  // REST removes B while media flows: B's page gets 53204, A sees B and its tracks go.
  async kick_media(run) {
    const name = roomName('kick-media');
    const a = await Client.open(run, 'A');
    const b = await Client.open(run, 'B');
    const ra = await a.connect('alice', name, AV);
    const rb = await b.connect('bob', name, AV);
    const bTracks = [localSid(rb, 'audio'), localSid(rb, 'video')];
    await receives(a, bTracks, 'bob');
    await receives(b, [localSid(ra, 'audio'), localSid(ra, 'video')], 'alice');

    const r = await rest('POST', `/v1/Rooms/${ra.sid}/Participants/${rb.localParticipant.sid}`, { Status: 'disconnected' });
    check(r.status === 200 || r.status === 202, 'REST Status=disconnected is accepted', r);
    const d = await b.waitEvent('disconnected', {}, "room emits 'disconnected'");
    equal(d.error && d.error.code, 53204, 'with error 53204 (participant not found)');
    await a.waitEvent('participantDisconnected', { identity: 'bob' }, "'participantDisconnected' for bob");
    for (const sid of bTracks) {
      await a.waitEvent('trackUnsubscribed', { trackSid: sid, participant: 'bob' }, `'trackUnsubscribed' for bob's ${sid}`);
    }
    await expectParticipantStatus(ra.sid, rb.localParticipant.sid, 'disconnected', 'bob');
    equal((await a.summary()).state, 'connected', "A's room is still connected");
  },

  // A second alice takes over while media flows: the first gets 53205; bob sees the swap and receives
  // the newcomer's media, and the newcomer receives bob's.
  async duplicate_identity_media(run) {
    const name = roomName('duplicate-media');
    const first = await Client.open(run, 'A1');
    const b = await Client.open(run, 'B');
    const r1 = await first.connect('alice', name, AV);
    const rb = await b.connect('bob', name, AV);
    const bTracks = [localSid(rb, 'audio'), localSid(rb, 'video')];
    await receives(b, [localSid(r1, 'audio'), localSid(r1, 'video')], 'the first alice');
    await receives(first, bTracks, 'bob');

    const after = await b.lastSeq();
    const second = await Client.open(run, 'A2');
    const r2 = await second.connect('alice', name, AV);
    equal(r2.sid, r1.sid, 'the second alice is in the same room');
    const d = await first.waitEvent('disconnected', {}, "room emits 'disconnected'");
    equal(d.error && d.error.code, 53205, 'with error 53205 (duplicate identity)');
    await b.waitEvent('participantDisconnected', { sid: r1.localParticipant.sid }, "'participantDisconnected' for the first alice", after);
    await b.waitEvent('participantConnected', { sid: r2.localParticipant.sid, identity: 'alice' }, "'participantConnected' for the second alice", after);
    await receives(b, [localSid(r2, 'audio'), localSid(r2, 'video')], 'the second alice', after);
    await receives(second, bTracks, 'bob');
    const alices = (await b.summary()).participants.map((p) => p.sid);
    equal(alices.join(','), r2.localParticipant.sid, "B's room.participants holds only the second alice");
  },

  // REST ends a room while media flows: every page gets 53118.
  async room_completed_media(run) {
    const name = roomName('completed-media');
    const a = await Client.open(run, 'A');
    const b = await Client.open(run, 'B');
    const ra = await a.connect('alice', name, AV);
    const rb = await b.connect('bob', name, AV);
    await receives(a, [localSid(rb, 'audio'), localSid(rb, 'video')], 'bob');
    await receives(b, [localSid(ra, 'audio'), localSid(ra, 'video')], 'alice');
    const r = await rest('POST', `/v1/Rooms/${ra.sid}`, { Status: 'completed' });
    check(r.status === 200 || r.status === 202, 'REST Status=completed is accepted', r);
    for (const c of [a, b]) {
      const d = await c.waitEvent('disconnected', {}, "room emits 'disconnected'");
      equal(d.error && d.error.code, 53118, `${c.label}: with error 53118 (room completed)`);
    }
  },

  // A data track published in `connect`: as soon as the others are subscribed to it, a message sent
  // on it reaches them (twilio-video.js's own test sends at that moment; the publisher's channel must
  // be open by then, or the browser drops the message). Both ways: the data track's publisher joins
  // first, then last.
  async data_track_in_connect(run) {
    for (const publisherFirst of [true, false]) {
      const name = roomName('data-connect');
      const p = await Client.open(run, publisherFirst ? 'P1' : 'P2');
      const s = await Client.open(run, publisherFirst ? 'S1' : 'S2');
      const join = async (client) => (client === p ? p.connect('pub', name, { dataTrack: 'chat' }) : s.connect('sub', name));
      const [first, second] = publisherFirst ? [p, s] : [s, p];
      const joined = new Map([[first, await join(first)]]);
      joined.set(second, await join(second));
      const track = joined.get(p).localParticipant.tracks.find((t) => t.kind === 'data');
      check(track && sidPattern('MT').test(track.trackSid), `${p.label}: its data track has an MT SID`, joined.get(p));
      await s.waitEvent('trackSubscribed', { trackSid: track.trackSid, kind: 'data' }, "'trackSubscribed' for the data track");
      await p.sendData('right away');
      await s.waitEvent('trackMessage', { data: 'right away' }, "the message sent at once arrives");
      for (const c of [p, s]) {
        await c.disconnect();
      }
    }
  },

  // A publishes a data track: B subscribes to it (kind data) and receives what A sends, in order.
  async data_track(run) {
    const name = roomName('data-track');
    const a = await Client.open(run, 'A');
    const b = await Client.open(run, 'B');
    const ra = await a.connect('alice', name, { audio: true });
    await b.connect('bob', name, { audio: true });
    await receives(b, [localSid(ra, 'audio')], 'alice');

    const pub = await a.publishData('chat');
    check(pub && !pub.error && sidPattern('MT').test(pub.trackSid) && pub.kind === 'data', 'A: publishTrack(LocalDataTrack) resolves with an MT SID', pub);
    const seen = await b.waitEvent('trackPublished', { trackSid: pub.trackSid }, "'trackPublished' for the data track");
    equal(`${seen.kind}/${seen.trackName}`, 'data/chat', "it is alice's data track 'chat'");
    await b.waitEvent('trackSubscribed', { trackSid: pub.trackSid, kind: 'data', participant: 'alice' }, "'trackSubscribed' for it, kind data");
    await a.dataOpen("A's data channel is open");
    // Text, then binary (as hex here), then text again.
    const texts = [['hello bob', false], ['ünïcödé ✓', false], ['00ff10fe', true], [JSON.stringify({ n: 3, list: [1, 2] }), false]];
    for (const [t, hex] of texts) {
      await a.sendData(t, hex);
    }
    const messages = [];
    for (const [t, hex] of texts) {
      const m = await b.waitEvent('trackMessage', { data: t, binary: hex }, `'trackMessage' ${hex ? `with the bytes ${t}` : JSON.stringify(t)}`);
      messages.push(m);
    }
    check(messages.every((m) => m.participant === 'alice' && m.trackSid === pub.trackSid), "every message comes from alice's data track", messages);
    const order = messages.map((m) => m.seq);
    check(order.every((x, i) => i === 0 || x > order[i - 1]), 'in the order sent', order);
    const all = (await b.events()).filter((e) => e.type === 'trackMessage');
    equal(all.length, texts.length, 'nothing else arrived');
    equal((await a.events()).filter((e) => e.type === 'trackMessage').length, 0, 'A does not receive its own messages');

    // C joins after the data track exists: it is subscribed in C's first server offer, and a message
    // reaches both B and C.
    const c = await Client.open(run, 'C');
    await c.connect('carol', name);
    await c.waitEvent('trackSubscribed', { trackSid: pub.trackSid, kind: 'data', participant: 'alice' }, "'trackSubscribed' for alice's data track");
    await a.sendData('hello carol');
    for (const client of [b, c]) {
      const m = await client.waitEvent('trackMessage', { data: 'hello carol' }, "'trackMessage' \"hello carol\"");
      equal(m.trackSid, pub.trackSid, `${client.label}: on alice's data track`);
    }

    // Unpublished, the data track leaves both; a new one (a channel on the existing association,
    // no renegotiation towards them) reaches both.
    const seqs = [await b.lastSeq(), await c.lastSeq()];
    check((await a.unpublish(pub.trackSid)) === true, 'A: unpublishTrack() on the data track');
    for (const [client, after] of [[b, seqs[0]], [c, seqs[1]]]) {
      await client.waitEvent('trackUnsubscribed', { trackSid: pub.trackSid, kind: 'data' }, "'trackUnsubscribed' for the data track", after);
      await client.waitEvent('trackUnpublished', { trackSid: pub.trackSid, kind: 'data' }, "'trackUnpublished' for the data track", after);
    }
    const next = await a.publishData('chat-2');
    check(next && !next.error && sidPattern('MT').test(next.trackSid) && next.trackSid !== pub.trackSid, 'A: a second data track gets a new MT SID', next);
    for (const [client, after] of [[b, seqs[0]], [c, seqs[1]]]) {
      await client.waitEvent('trackSubscribed', { trackSid: next.trackSid, kind: 'data' }, "'trackSubscribed' for the second data track", after);
    }
    await a.dataOpen("A's second data channel is open");
    await a.sendData('second track');
    for (const client of [b, c]) {
      const m = await client.waitEvent('trackMessage', { data: 'second track' }, "'trackMessage' \"second track\"");
      equal(m.trackSid, next.trackSid, `${client.label}: on alice's second data track`);
    }
  },

  // REST subscribe rules: excluding video stops bob's camera reaching A (its audio goes on), and
  // including everything again brings it back. SubscribedTracks follows each state.
  async subscribe_rules(run) {
    const name = roomName('subscribe-rules');
    const a = await Client.open(run, 'A');
    const b = await Client.open(run, 'B');
    const ra = await a.connect('alice', name, AV);
    const rb = await b.connect('bob', name, AV);
    const [mic, cam] = [localSid(rb, 'audio'), localSid(rb, 'video')];
    const me = ra.localParticipant.sid;
    await receives(a, [mic, cam], 'bob');
    await eventually('REST SubscribedTracks of A lists bob\'s microphone and camera', async () => {
      const r = await restSubscribed(ra.sid, me);
      return { ok: r.status === 200 && r.sids.join(',') === [mic, cam].sort().join(','), seen: r };
    });

    const rulesUrl = `/v1/Rooms/${ra.sid}/Participants/${me}/SubscribeRules`;
    let after = await a.lastSeq();
    const noVideo = await rest('POST', rulesUrl, { Rules: JSON.stringify([{ type: 'include', all: true }, { type: 'exclude', kind: 'video' }]) });
    equal(noVideo.status, 200, 'REST POST SubscribeRules excluding video is accepted');
    await a.waitEvent('trackUnsubscribed', { trackSid: cam, participant: 'bob' }, "'trackUnsubscribed' for bob's camera", after);
    await a.mediaStops(cam, "bob's camera is no longer received");
    const stopped = (await a.inbound())[cam];
    await a.mediaFlows([mic], "bob's microphone keeps rising");
    const later = (await a.inbound())[cam];
    check(!later || (stopped && later.packets === stopped.packets), "and bob's camera stayed stopped meanwhile", { stopped, later });
    let events = (await a.events()).filter((e) => e.seq > after && e.trackSid === mic && e.type === 'trackUnsubscribed');
    equal(events.length, 0, "A was never unsubscribed from bob's microphone");
    await eventually('REST SubscribedTracks of A lists only the microphone', async () => {
      const r = await restSubscribed(ra.sid, me);
      return { ok: r.status === 200 && r.sids.join(',') === mic, seen: r };
    });
    const fetched = await rest('GET', rulesUrl);
    equal(JSON.stringify(fetched.body.rules), JSON.stringify([{ type: 'include', all: true }, { type: 'exclude', kind: 'video' }]), 'REST GET SubscribeRules shows the rules');

    after = await a.lastSeq();
    const all = await rest('POST', rulesUrl, { Rules: JSON.stringify([{ type: 'include', all: true }]) });
    equal(all.status, 200, 'REST POST SubscribeRules including everything is accepted');
    await a.waitEvent('trackSubscribed', { trackSid: cam, participant: 'bob' }, "'trackSubscribed' for bob's camera again", after);
    await a.mediaFlows([cam, mic], "receives bob's camera again, and his microphone");
    events = (await a.events()).filter((e) => e.seq > after && e.type === 'trackUnsubscribed');
    equal(events.length, 0, 'nothing was unsubscribed meanwhile');
    await eventually('REST SubscribedTracks of A lists both again', async () => {
      const r = await restSubscribed(ra.sid, me);
      return { ok: r.status === 200 && r.sids.join(',') === [mic, cam].sort().join(','), seen: r };
    });
    await b.mediaFlows([localSid(ra, 'audio'), localSid(ra, 'video')], "B received alice's tracks all along");

    // Excluding and at once including video again: whatever A saw in between, it ends up receiving
    // bob's camera.
    after = await a.lastSeq();
    const [off, on] = [
      await rest('POST', rulesUrl, { Rules: JSON.stringify([{ type: 'include', all: true }, { type: 'exclude', kind: 'video' }]) }),
      await rest('POST', rulesUrl, { Rules: JSON.stringify([{ type: 'include', all: true }]) }),
    ];
    check(off.status === 200 && on.status === 200, 'REST: both rule changes are accepted back to back', [off.status, on.status]);
    await a.mediaFlows([cam, mic], "receives bob's camera and microphone after the flip");
    const flips = (await a.events()).filter((e) => e.seq > after && e.trackSid === cam).map((e) => e.type);
    check(flips.length === 0 || (flips.length === 2 && flips[0] === 'trackUnsubscribed' && flips[1] === 'trackSubscribed'), "A saw nothing, or bob's camera go and come back", flips);
    const current = (await a.summary()).participants.find((p) => p.identity === 'bob');
    check(current && current.tracks.length === 2, 'A still has both of bob\'s publications', current);
  },

  // A's signaling connection is cut while media flows: A resumes on a new WebSocket, the server keeps
  // its peer connection (listed in `synced`), media goes on both ways, and a track A publishes after
  // resuming reaches B.
  async reconnect_media(run) {
    const name = roomName('reconnect-media');
    const { relay, a, b, aTracks, bTracks } = await aliceThroughRelayAndBob(run, name);
    const connect = a.sent.find((m) => m.type === 'connect');
    const pcIds = ((connect && connect.peer_connections) || []).map((p) => p.id).filter(Boolean);
    check(pcIds.length === 1, "A's connect offered one peer connection", connect && connect.peer_connections);
    const pcsBefore = await a.peerConnectionStates();

    const received = a.received.length;
    check(relay.cut() >= 1, "A's signaling connection was cut");
    await a.waitEvent('reconnecting', {}, "room emits 'reconnecting'");
    await a.waitEvent('reconnected', {}, "room emits 'reconnected'");
    const synced = a.received.slice(received).find((m) => m.type === 'synced');
    check(!!synced, "A received 'synced'", a.received.slice(received).map((m) => m.type));
    const kept = (synced.peer_connections || []).map((p) => p.id);
    check(kept.includes(pcIds[0]), "'synced' lists A's peer connection", synced.peer_connections);
    const pcsAfter = await a.peerConnectionStates();
    equal(pcsAfter.length, pcsBefore.length, 'A made no new peer connection');
    check(pcsAfter.every((st) => st === 'connected'), "A's peer connections are still connected", pcsAfter);
    const aliceEvents = (await b.events()).filter((e) => e.participant === 'alice' && e.type === 'trackUnsubscribed');
    equal(aliceEvents.length, 0, "B never lost alice's tracks");

    await a.mediaFlows(bTracks, "receives bob's audio and video after resuming");
    await b.mediaFlows(aTracks, "receives alice's audio and video after A resumed");
    const pub = await a.publish('video', 'after-resume');
    check(pub && !pub.error && sidPattern('MT').test(pub.trackSid), 'A: publishTrack() after resuming resolves with an MT SID', pub);
    await receives(b, [pub.trackSid], 'alice');

    // A server offer lost with the connection: C joins while the server's messages to A are held
    // back, then A's connection is cut. `synced` carries the offer A never saw; A answers it and
    // receives carol.
    relay.hold();
    const c = await Client.open(run, 'C');
    const rc = await c.connect('carol', name, AV);
    const cTracks = [localSid(rc, 'audio'), localSid(rc, 'video')];
    await until("the server's offer of carol's tracks to A is held back", () => relay.heldText().includes('"offer"'), EVENT_TIMEOUT_MS);
    const seq = await a.lastSeq();
    const [sent2, received2] = [a.sent.length, a.received.length];
    check(relay.cut() >= 1, "A's signaling connection was cut again, the offer with it");
    await a.waitEvent('reconnected', {}, "room emits 'reconnected' again", seq);
    const synced2 = a.received.slice(received2).find((m) => m.type === 'synced');
    const unanswered = described(synced2, pcIds[0], 'offer');
    check(!!unanswered, "'synced' carries the server's unanswered offer", synced2 && synced2.peer_connections);
    const answersIt = (m) => {
      const answer = described(m, pcIds[0], 'answer');
      return !!answer && answer.revision === unanswered.revision;
    };
    await until('A answers it with the same revision', () => a.sent.slice(sent2).some(answersIt), EVENT_TIMEOUT_MS);
    await receives(a, cTracks, 'carol');
    await receives(c, [...aTracks, pub.trackSid], 'alice');
    equal((await a.peerConnectionStates()).join(','), pcsBefore.join(','), 'A still has its one connected peer connection');

    // A publishes while it cannot reach the server: its `sync` carries the offer, `synced` the answer.
    relay.refuse(true);
    const seq3 = await a.lastSeq();
    const [sent3, received3] = [a.sent.length, a.received.length];
    check(relay.cut() >= 1, "A's signaling connection was cut a third time, and A cannot reconnect for now");
    await a.waitEvent('reconnecting', {}, "room emits 'reconnecting'", seq3);
    const offers = await a.offersCreated();
    await a.startPublish('while-away');
    await a.offersBeyond(offers, 'created an offer for its new camera while disconnected');
    relay.refuse(false);
    await a.waitEvent('reconnected', {}, "room emits 'reconnected' again", seq3);
    const sync3 = a.sent.slice(sent3).find((m) => m.type === 'sync');
    const offered = described(sync3, pcIds[0], 'offer');
    check(!!offered, "A's 'sync' carries its offer", sync3 && sync3.peer_connections);
    const synced3 = a.received.slice(received3).find((m) => m.type === 'synced');
    const answered = described(synced3, pcIds[0], 'answer');
    check(!!answered && answered.revision === offered.revision, "'synced' answers it with the same revision", synced3 && synced3.peer_connections);
    const away = await a.publishDone();
    check(away && !away.error && sidPattern('MT').test(away.trackSid), 'A: publishTrack() resolves with an MT SID', away);
    for (const other of [b, c]) {
      await receives(other, [away.trackSid], 'alice');
    }
    await a.mediaFlows([...bTracks, ...cTracks], "still receives bob's and carol's audio and video");
    const events = (await a.events()).map((e) => e.type);
    check(!events.includes('disconnected'), 'A never disconnected', events);
  },

  // The server's answer to A's offer is lost with the connection: A's `sync` repeats the offer the
  // server already applied, and `synced` must answer it again, or A's new camera never goes out.
  async reconnect_lost_answer(run) {
    const name = roomName('lost-answer');
    const { relay, a, b, aTracks, bTracks } = await aliceThroughRelayAndBob(run, name);
    const pcId = a.sent.find((m) => m.type === 'connect').peer_connections[0].id;

    relay.hold();
    const [sent, received, seq] = [a.sent.length, a.received.length, await a.lastSeq()];
    await a.startPublish('lost-answer');
    const offerOf = (m) => described(m, pcId, 'offer');
    await until('A sends an offer for a new camera', () => a.sent.slice(sent).some(offerOf), EVENT_TIMEOUT_MS);
    const offered = offerOf(a.sent.slice(sent).find(offerOf)).revision;
    await until("the server's answer is held back", () => relay.heldText().includes('"answer"'), EVENT_TIMEOUT_MS);
    check(relay.cut() >= 1, "A's signaling connection was cut, the answer with it");
    await a.waitEvent('reconnected', {}, "room emits 'reconnected'", seq);
    const sync = a.sent.slice(sent).find((m) => m.type === 'sync');
    const again = offerOf(sync);
    check(!!again && again.revision === offered, "A's 'sync' repeats its offer", sync && sync.peer_connections);
    const synced = a.received.slice(received).find((m) => m.type === 'synced');
    const answer = described(synced, pcId, 'answer');
    check(!!answer && answer.revision === offered, "'synced' answers it again", synced && synced.peer_connections);
    const pub = await a.publishDone();
    check(pub && !pub.error && sidPattern('MT').test(pub.trackSid), 'A: publishTrack() resolves with an MT SID', pub);
    await receives(b, [pub.trackSid], 'alice');
    await b.mediaFlows(aTracks, "still receives alice's microphone and first camera");
    await a.mediaFlows(bTracks, "still receives bob's audio and video");

    // The other way round: A's answer to a server offer (carol's tracks) is lost. A's `sync` carries
    // it, and the server applies it.
    relay.holdUp();
    const [sent2, seq2] = [a.sent.length, await a.lastSeq()];
    const c = await Client.open(run, 'C');
    const rc = await c.connect('carol', name, AV);
    const answerOf = (m) => described(m, pcId, 'answer');
    await until("A answers the server's offer of carol's tracks (held back)", () => a.sent.slice(sent2).some(answerOf), EVENT_TIMEOUT_MS);
    const answered = answerOf(a.sent.slice(sent2).find(answerOf)).revision;
    check(relay.cut() >= 1, "A's signaling connection was cut, its answer with it");
    await a.waitEvent('reconnected', {}, "room emits 'reconnected' again", seq2);
    const sync2 = a.sent.slice(sent2).find((m) => m.type === 'sync');
    const carried = answerOf(sync2);
    check(!!carried && carried.revision === answered, "A's 'sync' carries its answer", sync2 && sync2.peer_connections);
    await receives(a, [localSid(rc, 'audio'), localSid(rc, 'video')], 'carol');
    await receives(c, [...aTracks, pub.trackSid], 'alice');
  },

  // Both the server's answer to A's offer (a new camera) and the server's next offer (carol's tracks)
  // are lost with the connection. A's `sync` repeats its offer, which crosses the server's pending
  // one: `synced` carries the server's offer, A rolls its own back, answers and offers again.
  async reconnect_lost_answer_and_offer(run) {
    const name = roomName('lost-both');
    const { relay, a, b, aTracks } = await aliceThroughRelayAndBob(run, name);
    const pcId = a.sent.find((m) => m.type === 'connect').peer_connections[0].id;

    relay.hold();
    const [sent, received, seq] = [a.sent.length, a.received.length, await a.lastSeq()];
    await a.startPublish('lost-both');
    await until("the server's answer to A's offer is held back", () => relay.heldText().includes('"answer"'), EVENT_TIMEOUT_MS);
    const c = await Client.open(run, 'C');
    const rc = await c.connect('carol', name, AV);
    await until("the server's offer of carol's tracks is held back too", () => relay.heldText().includes('"offer"'), EVENT_TIMEOUT_MS);
    check(relay.cut() >= 1, "A's signaling connection was cut, both with it");
    await a.waitEvent('reconnected', {}, "room emits 'reconnected'", seq);
    const synced = a.received.slice(received).find((m) => m.type === 'synced');
    const pending = described(synced, pcId, 'offer');
    check(!!pending, "'synced' carries the server's pending offer", synced && synced.peer_connections);
    const revisions = (type) => a.sent.slice(sent).map((m) => described(m, pcId, type)).filter(Boolean).map((d) => d.revision);
    await until('A answers it and offers again one revision later', () => revisions('answer').includes(pending.revision) && revisions('offer').includes(pending.revision + 1), EVENT_TIMEOUT_MS);
    const pub = await a.publishDone();
    check(pub && !pub.error && sidPattern('MT').test(pub.trackSid), 'A: publishTrack() resolves with an MT SID', pub);
    await receives(a, [localSid(rc, 'audio'), localSid(rc, 'video')], 'carol');
    await receives(b, [pub.trackSid], 'alice');
    await receives(c, [...aTracks, pub.trackSid], 'alice');
    await b.mediaFlows(aTracks, "still receives alice's microphone and first camera");
  },

  // Glare: the server's offer (carol's tracks for A) crosses A's own offer (a new camera). A rolls
  // back, answers the server's offer and offers again one revision later; everything gets through.
  async glare(run) {
    const name = roomName('glare');
    const { relay, a, b, aTracks } = await aliceThroughRelayAndBob(run, name);

    relay.hold();
    const c = await Client.open(run, 'C');
    const rc = await c.connect('carol', name, AV);
    const cTracks = [localSid(rc, 'audio'), localSid(rc, 'video')];
    await until("the server's offer of carol's tracks to A is held back", () => relay.heldText().includes('"offer"'), EVENT_TIMEOUT_MS);
    const sent = a.sent.length;
    const received = a.received.length;
    const publishing = a.publish('video', 'crossing');
    const offersFrom = (list, type) =>
      list.flatMap((m) => (m.peer_connections || []).filter((p) => p.description && p.description.type === type).map((p) => p.description.revision));
    await until('A sends an offer for its new camera meanwhile', () => offersFrom(a.sent.slice(sent), 'offer').length > 0, EVENT_TIMEOUT_MS);
    check(relay.release() > 0, "the server's messages to A go on");
    const pub = await publishing;
    check(pub && !pub.error && sidPattern('MT').test(pub.trackSid), 'A: publishTrack() resolves with an MT SID', pub);

    await receives(a, cTracks, 'carol');
    for (const other of [b, c]) {
      await receives(other, [pub.trackSid], 'alice');
    }
    await b.mediaFlows(aTracks, "still receives alice's microphone and first camera");
    const serverOffer = offersFrom(a.received.slice(received), 'offer')[0];
    const clientOffers = offersFrom(a.sent.slice(sent), 'offer');
    const answers = offersFrom(a.sent.slice(sent), 'answer');
    equal(clientOffers[0], serverOffer, "A's offer crossed the server's (same revision)");
    check(answers.includes(serverOffer), "A answered the server's offer", answers);
    check(clientOffers.includes(serverOffer + 1), 'and offered again one revision later', clientOffers);
    check(offersFrom(a.received.slice(received), 'answer').includes(serverOffer + 1), 'which the server answered', offersFrom(a.received.slice(received), 'answer'));
  },
};
