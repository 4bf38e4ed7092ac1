// Browser scenarios taken from what twilio-video.js's own integration suite expects of Twilio: a page
// makes a room over REST itself (across origins, so CORS must hold) and joins it by its SID, and the
// room's options hold for those who joined that way.

'use strict';

const { AV, Client, check, equal, localSid, roomName, token } = require('./lib');

// A REST call made by `client`'s page itself: the page's origin is not vroom's, so the browser
// preflights it and checks the CORS answers, as for twilio-video.js's suite or any browser tool.
function pageRest(client, method, urlPath, form) {
  const s = client.run.server;
  return client.page.evaluate(
    ([b, m, p, f, k]) => window.harness.rest(b, m, p, f, k),
    [s.baseUrl, method, urlPath, form || null, `${s.apiKeySid}:${s.apiKeySecret}`],
  );
}

// connect() with only a token and a name (no other option), resolving with the summary or `{ error }`.
function connectTo(client, identity, name) {
  return client.page.evaluate(
    ([t, o]) => window.harness.connect(t, o),
    [token(identity, null), { wsServer: client.run.server.wsUrl, name }],
  );
}

// The page's video streams in `direction` ('outbound' or 'inbound') whose frame count rises over a
// second: the ones in use now, not those a renegotiation left behind.
async function rising(client, direction) {
  const snapshot = async () => (await client.page.evaluate(() => window.harness.videoStreams()))[direction];
  const before = await snapshot();
  await new Promise((r) => setTimeout(r, 1000));
  const after = await snapshot();
  return after.filter((s) => {
    const was = before.find((x) => x.ssrc === s.ssrc);
    return s.frames > (was ? was.frames : 0);
  });
}

module.exports = {
  // An audio-only room made over REST from the page, joined by SID: the SDK shows the room's unique
  // name, the video track is refused with 53125 while audio and data publish, REST completion reaches
  // everyone, and the ended room's SID (or an unknown one) is refused.
  async join_by_sid(run) {
    const name = roomName('by-sid');
    const a = await Client.open(run, 'A');
    const b = await Client.open(run, 'B');
    const made = await pageRest(a, 'POST', '/v1/Rooms', { UniqueName: name, AudioOnly: 'true' });
    equal(made.status, 201, 'the page creates the room over REST (cross-origin, Basic auth)');
    const sid = made.body.sid;
    const fetched = await pageRest(a, 'GET', `/v1/Rooms/${sid}`);
    equal(fetched.body.audio_only, true, 'the page reads it back: an audio-only room');

    const ra = await a.connect('alice', sid, { audio: true });
    equal(ra.sid, sid, 'connect({ name: <RoomSid> }) joins that room');
    equal(ra.name, name, "room.name is the room's unique name");
    equal(ra.localParticipant.tracks.map((t) => t.kind).join(','), 'audio', 'the microphone publishes');
    const data = await a.page.evaluate(() => window.harness.publishData('chat'));
    check(data.trackSid && data.kind === 'data', 'a data track publishes', data);
    const video = await a.page.evaluate(() => window.harness.publish('video', 'cam'));
    equal(video.error && video.error.code, 53125, 'publishing a video track fails with 53125');
    await a.waitEvent('localTrackPublicationFailed', { kind: 'video' }, "'trackPublicationFailed' for the video track");

    const rb = await b.connect('bob', name);
    equal(rb.sid, sid, 'joining by unique name lands in the same room');
    const alice = rb.participants.find((p) => p.identity === 'alice');
    check(alice && alice.tracks.map((t) => t.kind).sort().join(',') === 'audio,data', "bob sees alice's audio and data, no video", rb.participants);
    await b.waitEvent('trackSubscribed', { kind: 'audio', participant: 'alice' }, "bob subscribes to alice's audio");

    const done = await pageRest(b, 'POST', `/v1/Rooms/${sid}`, { Status: 'completed' });
    equal(done.body.status, 'completed', 'the page completes the room over REST');
    for (const c of [a, b]) {
      const d = await c.waitEvent('disconnected', {}, "room emits 'disconnected'");
      equal(d.error && d.error.code, 53118, `${c.label}: with error 53118 (room completed)`);
    }
    const late = await Client.open(run, 'C');
    const again = await connectTo(late, 'carol', sid);
    equal(again.error && again.error.code, 53118, "connecting to the completed room's SID fails with 53118");
    const unknown = await connectTo(late, 'carol', 'RM0123456789abcdef0123456789abcdef');
    equal(unknown.error && unknown.error.code, 53106, 'connecting to an unknown room SID fails with 53106');
  },

  // A participant's track names are unique across kinds: publishing a second 'foo' fails with
  // 53304 (trackPublicationFailed), another name publishes, and the other page sees one 'foo'.
  async duplicate_track_names(run) {
    const name = roomName('track-names');
    const a = await Client.open(run, 'A');
    const b = await Client.open(run, 'B');
    await a.connect('alice', name, { audio: { name: 'foo' } });
    const dup = await a.publish('video', 'foo');
    equal(dup.error && dup.error.code, 53304, "publishing a video track named 'foo' next to the audio 'foo' fails with 53304");
    const failed = await a.waitEvent('localTrackPublicationFailed', { kind: 'video' }, "'trackPublicationFailed' for it");
    equal(failed.error.code, 53304, 'the event carries 53304');
    const cam = await a.publish('video', 'cam');
    check(cam.trackSid && cam.trackName === 'cam', "a video track named 'cam' publishes", cam);
    const rb = await b.connect('bob', name);
    const names = rb.participants[0].tracks.map((t) => t.trackName).sort().join(',');
    equal(names, 'cam,foo', "bob sees alice's 'cam' and one 'foo'");

    // The same in connect() (twilio-video.js's own check: the event comes after connect resolves).
    const c = await Client.open(run, 'C');
    const rc = await c.connect('carol', name, { audio: { name: 'same' }, video: { name: 'same', width: 320, height: 240 } });
    const late = await c.waitEvent('localTrackPublicationFailed', { kind: 'video' }, "'trackPublicationFailed' for the second 'same', given in connect()");
    equal(late.error.code, 53304, 'with 53304');
    check(rc.localParticipant.tracks.every((t) => t.kind !== 'video'), 'only the audio track published', rc.localParticipant.tracks);
  },

  // When bob leaves, alice's RemoteParticipant for him keeps its tracks (twilio-video.js's own test:
  // participantDisconnected leaves RemoteParticipant.tracks unchanged), nothing is unpublished, and
  // what alice received from him is unsubscribed.
  async departed_keeps_tracks(run) {
    const name = roomName('departed');
    const a = await Client.open(run, 'A');
    const b = await Client.open(run, 'B');
    await a.connect('alice', name);
    const rb = await b.connect('bob', name, AV);
    const mine = [localSid(rb, 'audio'), localSid(rb, 'video')].sort();
    for (const sid of mine) {
      await a.waitEvent('trackSubscribed', { trackSid: sid }, `alice subscribes to bob's ${sid}`);
    }
    await b.disconnect();
    const left = await a.waitEvent('participantDisconnected', { identity: 'bob' }, "'participantDisconnected' for bob");
    equal(left.tracks.map((t) => t.trackSid).sort().join(','), mine.join(','), "bob's RemoteParticipant still lists his tracks");
    const unpublished = (await a.events()).filter((e) => e.type === 'trackUnpublished');
    equal(unpublished.length, 0, "no 'trackUnpublished' on the way out");
    for (const sid of mine) {
      await a.waitEvent('trackUnsubscribed', { trackSid: sid }, `'trackUnsubscribed' for bob's ${sid}`);
    }
  },

  // twilio-video.js sends its `region` option nowhere when `wsServer` is set, so the region travels
  // in the URL: `localParticipant.signalingRegion` is the one asked for there (its own suite
  // expects 'us1' for region 'us1'), vroom's own name otherwise.
  async signaling_region(run) {
    const name = roomName('region');
    const a = await Client.open(run, 'A');
    const b = await Client.open(run, 'B');
    const ra = await a.connect('alice', name, { region: 'us1', wsServer: `${run.server.wsUrl}?region=us1` });
    equal(ra.localParticipant.signalingRegion, 'us1', "signalingRegion is 'us1' when the URL asks for it");
    const rb = await b.connect('bob', name);
    equal(rb.localParticipant.signalingRegion, 'vroom', "signalingRegion is 'vroom' when nothing is asked");
  },

  // A `VideoCodecs=H264` room joined by SID, with the adaptive-simulcast setting and with VP8
  // simulcast asked for: the camera goes out as one H264 stream (no VP8, no simulcast layers), the
  // other page decodes H264, and neither page's local description keeps an `a=ssrc-group:SIM`
  // (twilio-video.js's own "VP8 simulcast in H264 only room" check).
  async h264_room(run) {
    const a = await Client.open(run, 'A');
    const b = await Client.open(run, 'B');
    const made = await pageRest(a, 'POST', '/v1/Rooms', { UniqueName: roomName('h264'), VideoCodecs: 'H264' });
    equal(made.status, 201, 'the page creates an H264 room over REST');
    const sid = made.body.sid;
    const ra = await a.connect('alice', sid, Object.assign({ preferredVideoCodecs: 'auto' }, AV));
    const cam = localSid(ra, 'video');
    await b.connect('bob', sid, Object.assign({ preferredVideoCodecs: [{ codec: 'VP8', simulcast: true }] }, AV));
    await b.waitEvent('trackSubscribed', { trackSid: cam }, "bob subscribes to alice's camera");
    await b.mediaFlows([cam], "bob decodes alice's camera");
    const sent = await rising(a, 'outbound');
    check(sent.length === 1 && sent[0].codec === 'video/H264', 'alice encodes one H264 stream (no VP8, no simulcast)', sent);
    const got = await rising(b, 'inbound');
    check(got.length === 1 && got[0].codec === 'video/H264', 'bob decodes H264', got);
    for (const c of [a, b]) {
      const sdps = await c.page.evaluate(() => window.peerConnections.map((pc) => (pc.localDescription ? pc.localDescription.sdp : '')));
      const sendingVideo = sdps.flatMap((sdp) => sdp.split('\r\nm=').filter((m) => /^video/.test(m) && /a=(sendonly|sendrecv)/.test(m)));
      check(sendingVideo.length > 0 && sendingVideo.every((m) => !/a=ssrc-group:SIM/.test(m)), `${c.label}: no simulcast group in its local description`, sendingVideo.length);
    }
  },
};
