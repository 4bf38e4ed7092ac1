// Browser scenarios about rooms and participants: connecting, joining and leaving, takeovers, kicks,
// room completion, published tracks, tokens, heartbeats and resuming.

'use strict';

const {
  Client,
  check,
  equal,
  eventually,
  expectParticipantStatus,
  rest,
  roomName,
  sidPattern,
  startRelay,
  token,
  until,
} = require('./lib');

module.exports = {
  // connect() through wsServer; what the SDK shows matches what REST reports; leaving is seen by REST.
  async connect(run) {
    const name = roomName('connect');
    const a = await Client.open(run, 'A');
    const room = await a.connect('alice', name);
    check(sidPattern('RM').test(room.sid), 'room.sid is an RM SID', room.sid);
    equal(room.name, name, 'room.name is the name asked for');
    equal(room.state, 'connected', 'room.state');
    check(sidPattern('PA').test(room.localParticipant.sid), 'localParticipant.sid is a PA SID', room.localParticipant.sid);
    equal(room.localParticipant.identity, 'alice', 'localParticipant.identity is the token identity');
    equal(room.participants.length, 0, 'nobody else in the room');

    const r = await rest('GET', `/v1/Rooms/${room.sid}`);
    equal(r.status, 200, 'REST fetches the room by SID');
    equal(r.body.unique_name, name, 'REST unique_name = room.name');
    equal(r.body.status, 'in-progress', 'REST room status');
    equal(room.mediaRegion, r.body.media_region, 'room.mediaRegion = REST media_region');
    const byName = await rest('GET', `/v1/Rooms/${encodeURIComponent(name)}`);
    equal(byName.body.sid, room.sid, 'REST fetches the same room by name');
    const p = await rest('GET', `/v1/Rooms/${room.sid}/Participants/${room.localParticipant.sid}`);
    equal(p.status, 200, 'REST fetches the participant');
    equal(p.body.identity, 'alice', 'REST participant identity');
    equal(p.body.status, 'connected', 'REST participant status');
    const list = await rest('GET', `/v1/Rooms/${room.sid}/Participants?Status=connected`);
    const sids = (list.body.participants || []).map((x) => x.sid);
    check(sids.length === 1 && sids[0] === room.localParticipant.sid, 'REST lists exactly the participant as connected', sids);

    await a.disconnect();
    const d = await a.waitEvent('disconnected', {}, "room.disconnect() emits 'disconnected'");
    equal(d.error, null, "'disconnected' carries no error");
    await expectParticipantStatus(room.sid, room.localParticipant.sid, 'disconnected', 'alice');
  },

  // Two pages: each sees the other come and go; REST agrees.
  async join_leave(run) {
    const name = roomName('join-leave');
    const a = await Client.open(run, 'A');
    const b = await Client.open(run, 'B');
    const ra = await a.connect('alice', name);
    const rb = await b.connect('bob', name);
    equal(rb.sid, ra.sid, 'both pages are in the same room');
    check(
      rb.participants.length === 1 && rb.participants[0].sid === ra.localParticipant.sid && rb.participants[0].identity === 'alice',
      "B's room.participants holds alice from the start",
      rb.participants,
    );
    const joined = await a.waitEvent('participantConnected', { identity: 'bob' }, "'participantConnected' for bob");
    equal(joined.sid, rb.localParticipant.sid, "the participant's SID is B's localParticipant.sid");
    const sa = await a.summary();
    equal(sa.participants.map((x) => x.identity).join(','), 'bob', "A's room.participants is [bob]");

    await b.disconnect();
    const bd = await b.waitEvent('disconnected', {}, "room emits 'disconnected'");
    equal(bd.error, null, "B's 'disconnected' carries no error");
    const left = await a.waitEvent('participantDisconnected', { identity: 'bob' }, "'participantDisconnected' for bob");
    equal(left.sid, rb.localParticipant.sid, 'the participant that left is B');
    await expectParticipantStatus(ra.sid, rb.localParticipant.sid, 'disconnected', 'bob');
    await expectParticipantStatus(ra.sid, ra.localParticipant.sid, 'connected', 'alice');
    equal((await a.summary()).state, 'connected', "A's room is still connected");
  },

  // A second page with the same identity takes over; the first one gets 53205.
  async duplicate_identity(run) {
    const name = roomName('duplicate');
    const first = await Client.open(run, 'A1');
    const second = await Client.open(run, 'A2');
    const r1 = await first.connect('alice', name);
    const r2 = await second.connect('alice', name);
    equal(r2.sid, r1.sid, 'both pages are in the same room');
    check(r2.localParticipant.sid !== r1.localParticipant.sid, 'the second page is a new participant', r2.localParticipant.sid);
    const d = await first.waitEvent('disconnected', {}, "room emits 'disconnected'");
    equal(d.error && d.error.code, 53205, "with error 53205 (duplicate identity)");
    await expectParticipantStatus(r1.sid, r1.localParticipant.sid, 'disconnected', 'the first alice');
    await expectParticipantStatus(r1.sid, r2.localParticipant.sid, 'connected', 'the second alice');
    equal((await second.summary()).state, 'connected', "the second page's room is still connected");
  },

  // REST ends the room: every page gets 53118.
  async room_completed(run) {
    const name = roomName('completed');
    const a = await Client.open(run, 'A');
    const b = await Client.open(run, 'B');
    const ra = await a.connect('alice', name);
    await b.connect('bob', name);
    await a.waitEvent('participantConnected', { identity: 'bob' }, "'participantConnected' for bob");
    const r = await rest('POST', `/v1/Rooms/${ra.sid}`, { Status: 'completed' });
    check(r.status === 200 || r.status === 202, 'REST Status=completed is accepted', r);
    equal(r.body.status, 'completed', 'REST answers with the completed room');
    for (const c of [a, b]) {
      const d = await c.waitEvent('disconnected', {}, "room emits 'disconnected'");
      equal(d.error && d.error.code, 53118, `${c.label}: with error 53118 (room completed)`);
    }
    const list = await rest('GET', `/v1/Rooms/${ra.sid}/Participants?Status=connected`);
    equal((list.body.participants || []).length, 0, 'REST lists no connected participants');
  },

  // REST removes one participant: its page gets 53204, the other page sees it leave.
  async kick(run) {
    const name = roomName('kick');
    const a = await Client.open(run, 'A');
    const b = await Client.open(run, 'B');
    const ra = await a.connect('alice', name);
    const rb = await b.connect('bob', name);
    await a.waitEvent('participantConnected', { identity: 'bob' }, "'participantConnected' for bob");
    const r = await rest('POST', `/v1/Rooms/${ra.sid}/Participants/${rb.localParticipant.sid}`, { Status: 'disconnected' });
    check(r.status === 200 || r.status === 202, 'REST Status=disconnected is accepted', r);
    equal(r.body.status, 'disconnected', 'REST answers with the disconnected participant');
    const d = await b.waitEvent('disconnected', {}, "room emits 'disconnected'");
    equal(d.error && d.error.code, 53204, 'with error 53204 (participant not found)');
    await a.waitEvent('participantDisconnected', { identity: 'bob' }, "'participantDisconnected' for bob");
    await expectParticipantStatus(ra.sid, ra.localParticipant.sid, 'connected', 'alice');
    equal((await a.summary()).state, 'connected', "A's room is still connected");
  },

  // Fake camera and microphone: the server's `published` acknowledgements give MT SIDs; the other
  // page learns of the tracks (present at join, then published and unpublished later). Media does not
  // flow yet, so subscriptions are not checked.
  async tracks(run) {
    const name = roomName('tracks');
    const a = await Client.open(run, 'A');
    const b = await Client.open(run, 'B');
    const rb = await b.connect('bob', name);
    equal(rb.participants.length, 0, 'B joined an empty room');
    const ra = await a.connect('alice', name, { audio: true, video: { width: 320, height: 240 } });
    const kinds = ra.localParticipant.tracks.map((t) => t.kind).sort().join(',');
    equal(kinds, 'audio,video', "A's localParticipant.tracks has its microphone and camera");
    for (const t of ra.localParticipant.tracks) {
      check(sidPattern('MT').test(t.trackSid), `A's ${t.kind} publication has an MT SID`, t.trackSid);
    }
    const mine = ra.localParticipant.tracks.map((t) => `${t.kind}:${t.trackSid}`).sort().join(',');
    const rest1 = await rest('GET', `/v1/Rooms/${ra.sid}/Participants/${ra.localParticipant.sid}/PublishedTracks`);
    const restSids = (rest1.body.published_tracks || []).map((t) => `${t.kind}:${t.sid}`).sort();
    equal(restSids.join(','), mine, 'REST PublishedTracks lists the same SIDs');

    // Tracks a participant joins with come with its participantConnected (no trackPublished events).
    const joined = await b.waitEvent('participantConnected', { identity: 'alice' }, "'participantConnected' for alice");
    equal(joined.tracks.map((t) => `${t.kind}:${t.trackSid}`).sort().join(','), mine, "alice arrives at B with A's publications");
    const c = await Client.open(run, 'C');
    const rc = await c.connect('carol', name);
    const alice = rc.participants.find((p) => p.identity === 'alice');
    check(!!alice, "C's room.participants holds alice from the start", rc.participants);
    equal(alice.tracks.map((t) => `${t.kind}:${t.trackSid}`).sort().join(','), mine, "C sees A's publications with the same SIDs and kinds");

    // A track published later is acknowledged to A and announced to the others.
    const pub = await a.publish('video', 'second-camera');
    check(pub && !pub.error && sidPattern('MT').test(pub.trackSid), 'A: publishTrack() resolves with an MT SID', pub);
    equal(pub.trackName, 'second-camera', 'the publication keeps its name');
    for (const other of [b, c]) {
      const seen = await other.waitEvent('trackPublished', { trackSid: pub.trackSid }, "'trackPublished' for the new track");
      equal(`${seen.participant}/${seen.kind}/${seen.trackName}`, 'alice/video/second-camera', `${other.label}: it is alice's second-camera video`);
    }
    await eventually('REST PublishedTracks lists it', async () => {
      const r = await rest('GET', `/v1/Rooms/${ra.sid}/Participants/${ra.localParticipant.sid}/PublishedTracks`);
      const listed = (r.body.published_tracks || []).map((t) => t.sid);
      return { ok: r.status === 200 && listed.length === 3 && listed.includes(pub.trackSid), seen: listed };
    });

    // Unpublishing it is announced too.
    const unpublished = await a.unpublish(pub.trackSid);
    check(unpublished === true, 'A: unpublishTrack()', unpublished);
    for (const other of [b, c]) {
      await other.waitEvent('trackUnpublished', { trackSid: pub.trackSid }, "'trackUnpublished' for it");
    }
    await eventually('REST PublishedTracks no longer lists it', async () => {
      const r = await rest('GET', `/v1/Rooms/${ra.sid}/Participants/${ra.localParticipant.sid}/PublishedTracks`);
      const listed = (r.body.published_tracks || []).map((t) => t.sid);
      return { ok: r.status === 200 && listed.length === 2 && !listed.includes(pub.trackSid), seen: listed };
    });
    for (const [client, label] of [[a, 'A'], [b, 'B'], [c, 'C']]) {
      equal((await client.summary()).state, 'connected', `${label}'s room is still connected`);
    }
  },

  // Refused tokens make connect() reject with the token error's code, and nobody joins.
  async bad_tokens(run) {
    const name = roomName('bad-tokens');
    const a = await Client.open(run, 'A');
    const cases = [
      ['signed with the wrong secret', token('alice', name, { secret: 'not-the-secret' }), 20107],
      ['expired', token('alice', name, { ttl: -3600 }), 20104],
      ['for another room', token('alice', `${name}-other`), 20106],
    ];
    for (const [what, t, code] of cases) {
      const r = await a.connectWith(t, name);
      equal(r && r.error && r.error.code, code, `a token ${what}: connect() rejects with ${code}`);
    }
    for (const status of ['in-progress', 'completed']) {
      const rooms = await rest('GET', `/v1/Rooms?UniqueName=${encodeURIComponent(name)}&Status=${status}`);
      check(rooms.status === 200 && rooms.body.rooms.length === 0, `REST: no ${status} room of that name`, rooms);
    }
  },

  // A page stays connected across several heartbeat periods, heartbeats flowing both ways, on a
  // server offering a short heartbeat timeout (1 s), so several periods pass quickly.
  heartbeats: {
    server: 'heartbeat_1s',
    async run(run) {
      const name = roomName('heartbeats');
      const a = await Client.open(run, 'A');
      const ra = await a.connect('alice', name);
      await until(
        'A sent and received at least 4 heartbeats each',
        () => a.heartbeatsSent >= 4 && a.heartbeatsReceived >= 4,
        60000,
        () => `sent ${a.heartbeatsSent}, received ${a.heartbeatsReceived}`,
      );
      const events = (await a.events()).map((e) => e.type);
      check(!events.includes('reconnecting') && !events.includes('disconnected'), 'the room never reconnected nor disconnected', events);
      equal((await a.summary()).state, 'connected', "A's room is still connected");
      await expectParticipantStatus(ra.sid, ra.localParticipant.sid, 'connected', 'alice');
    },
  },

  // The signaling connection breaks without a close handshake: the SDK resumes the session on a new
  // WebSocket (`sync`), keeps its room, participant and track SIDs, and the room goes on working.
  async reconnect(run) {
    const name = roomName('reconnect');
    const relay = await startRelay();
    run.cleanups.push(() => relay.close());
    const a = await Client.open(run, 'A');
    const b = await Client.open(run, 'B');
    const ra = await a.connect('alice', name, { wsServer: relay.url, audio: true });
    const rb = await b.connect('bob', name);
    await a.waitEvent('participantConnected', { identity: 'bob' }, "'participantConnected' for bob");
    const micSid = ra.localParticipant.tracks[0] && ra.localParticipant.tracks[0].trackSid;
    check(sidPattern('MT').test(micSid || ''), "A's microphone has an MT SID", micSid);

    const cut = relay.cut();
    check(cut >= 1, "A's signaling connection was cut", cut);
    const rec = await a.waitEvent('reconnecting', {}, "room emits 'reconnecting'");
    equal(rec.error && rec.error.code, 53001, 'with error 53001 (signaling connection disconnected)');
    await a.waitEvent('reconnected', {}, "room emits 'reconnected'");
    check(relay.accepted() >= 2, 'A opened a new WebSocket to resume', relay.accepted());

    const sa = await a.summary();
    equal(sa.sid, ra.sid, 'A is in the same room');
    equal(sa.localParticipant.sid, ra.localParticipant.sid, 'as the same participant');
    equal(sa.localParticipant.tracks.map((t) => t.trackSid).join(','), micSid, 'with the same microphone SID');
    equal(sa.participants.map((p) => p.sid).join(','), rb.localParticipant.sid, 'and still sees bob');
    await expectParticipantStatus(ra.sid, ra.localParticipant.sid, 'connected', 'alice');
    const bobView = (await b.summary()).participants.find((p) => p.identity === 'alice');
    check(bobView && bobView.sid === ra.localParticipant.sid, 'B still has alice', await b.events());

    // The resumed session works: publishing is acknowledged, and others come and go.
    const pub = await a.publish('video', 'after-resume');
    check(pub && !pub.error && sidPattern('MT').test(pub.trackSid), 'A: publishTrack() after resuming resolves with an MT SID', pub);
    await b.waitEvent('trackPublished', { trackSid: pub.trackSid }, "'trackPublished' for it");
    await b.disconnect();
    await a.waitEvent('participantDisconnected', { identity: 'bob' }, "'participantDisconnected' for bob");
    const events = (await a.events()).map((e) => e.type);
    check(!events.includes('disconnected'), 'A never disconnected', events);
    const left = (await b.events()).filter((e) => e.type === 'participantDisconnected' && e.identity === 'alice');
    equal(left.length, 0, 'B never saw alice leave');
  },
};
