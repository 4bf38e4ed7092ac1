// Browser scenarios of recordings: what vroom writes of twilio-video.js's tracks, as REST lists it
// and as ffprobe reads the files /Media leads to; the client's room.isRecording and its
// recordingStarted / recordingStopped events; media warnings ('recording-media-lost') when a recorded
// track stops sending.

'use strict';

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path_ = require('node:path');

const { AV, Client, check, equal, eventually, localSid, receives, rest, roomName, sidPattern } = require('./lib');

// A room created over REST with `params`; returns its SID.
async function createRoom(name, params) {
  const r = await rest('POST', '/v1/Rooms', Object.assign({ UniqueName: name, Type: 'group' }, params));
  equal(r.status, 201, `room ${name} created`);
  return r.body.sid;
}

// Alice and bob in `name`, each publishing audio and video and receiving the other's.
async function twoInRoom(run, name) {
  const a = await Client.open(run, 'A');
  const b = await Client.open(run, 'B');
  const ra = await a.connect('alice', name, AV);
  const aliceAt = Date.now();
  const rb = await b.connect('bob', name, AV);
  const aTracks = [localSid(ra, 'audio'), localSid(ra, 'video')];
  const bTracks = [localSid(rb, 'audio'), localSid(rb, 'video')];
  await receives(a, bTracks, 'bob');
  await receives(b, aTracks, 'alice');
  return { a, b, ra, rb, aliceAt, tracks: aTracks.concat(bTracks) };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The room's recordings once `count` of them are completed (all of them settled).
async function completedRecordings(roomSid, count) {
  const r = await eventually(`REST lists ${count} completed recordings of the room`, async () => {
    const res = await rest('GET', `/v1/Rooms/${roomSid}/Recordings?PageSize=50`);
    const list = res.body.recordings || [];
    const done = list.filter((x) => x.status === 'completed');
    return { ok: res.status === 200 && done.length === count && list.length === count, seen: list.map((x) => `${x.type}:${x.status}`), list };
  });
  return r.list;
}

// Downloads a recording through /v1/Recordings/{Sid}/Media (302 to a signed URL) and reads it with
// ffprobe: { codec, format, duration }.
async function probeMedia(run, recording) {
  const server = run.server;
  const auth = `Basic ${Buffer.from(`${server.apiKeySid}:${server.apiKeySecret}`).toString('base64')}`;
  const res = await fetch(`${server.baseUrl}/v1/Recordings/${recording.sid}/Media`, { headers: { authorization: auth }, redirect: 'manual' });
  equal(res.status, 302, `${recording.sid}: /Media answers 302`);
  const location = res.headers.get('location');
  const body = await res.json();
  check(location && body.redirect_to === location, `${recording.sid}: Location and redirect_to name the same URL`, { location, body });
  const file = await fetch(location);
  equal(file.status, 200, `${recording.sid}: the signed URL serves the file without credentials`);
  const bytes = Buffer.from(await file.arrayBuffer());
  equal(bytes.length, recording.size, `${recording.sid}: the file has the recording's size`);
  const unsigned = await fetch(location.split('?')[0]);
  equal(unsigned.status, 401, `${recording.sid}: the URL without its signature is refused`);
  const dir = fs.mkdtempSync(path_.join(os.tmpdir(), 'vroom-rec-'));
  run.cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const where = path_.join(dir, `${recording.sid}.${recording.container_format}`);
  fs.writeFileSync(where, bytes);
  const out = execFileSync('ffprobe', ['-v', 'error', '-show_streams', '-show_format', '-of', 'json', where], { encoding: 'utf8' });
  const probe = JSON.parse(out);
  const stream = probe.streams[0] || {};
  return { codec: stream.codec_name, format: probe.format.format_name, duration: Number(probe.format.duration), streams: probe.streams.length };
}

// Downloads a media file through `path` (a /Media sub-resource: 302 to a signed URL) into a
// temporary folder; returns its path.
async function download(run, path, name) {
  const server = run.server;
  const auth = `Basic ${Buffer.from(`${server.apiKeySid}:${server.apiKeySecret}`).toString('base64')}`;
  const res = await fetch(`${server.baseUrl}${path}`, { headers: { authorization: auth }, redirect: 'manual' });
  equal(res.status, 302, `${path} answers 302`);
  const file = await fetch(res.headers.get('location'));
  equal(file.status, 200, `${path}: the signed URL serves the file`);
  const dir = fs.mkdtempSync(path_.join(os.tmpdir(), 'vroom-comp-'));
  run.cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const where = path_.join(dir, name);
  fs.writeFileSync(where, Buffer.from(await file.arrayBuffer()));
  return where;
}

// How much of the left and right halves of the frame at `at` seconds of `file` is not black: the
// share of pixels (the frame scaled to 64x48 by ffmpeg, as RGB) with a channel above 40. Measured
// in RGB, not luma: Chromium's fake camera paints its green with Y = U = V = 0, so its frames are
// nearly as dark as the black canvas in luma (the mean luma of a cell was 23, black is 16) while
// every pixel of them is green (G = 135).
function halves(file, at) {
  const raw = execFileSync('ffmpeg', ['-v', 'error', '-ss', at.toFixed(2), '-i', file, '-frames:v', '1', '-vf', 'scale=64:48', '-pix_fmt', 'rgb24', '-f', 'rawvideo', '-'], { maxBuffer: 1 << 20 });
  let left = 0;
  let right = 0;
  const pixels = raw.length / 3;
  for (let i = 0; i < pixels; i++) {
    const lit = Math.max(raw[3 * i], raw[3 * i + 1], raw[3 * i + 2]) > 40;
    if (!lit) continue;
    if (i % 64 < 32) left += 1;
    else right += 1;
  }
  return { left: left / (pixels / 2), right: right / (pixels / 2) };
}

// A grid composition of the room (mp4), once the composer has made it: { resource, file }.
async function composeGrid(run, roomSid) {
  const created = await rest('POST', '/v1/Compositions', {
    RoomSid: roomSid,
    VideoLayout: JSON.stringify({ grid: { video_sources: ['*'] } }),
    AudioSources: '*',
    Format: 'mp4',
  });
  equal(created.status, 201, 'POST /v1/Compositions');
  const sid = created.body.sid;
  check(sidPattern('CJ').test(sid), `${sid}: a CJ SID`);
  // Composing takes CPU seconds (more on a loaded machine): up to 90 s.
  const until = Date.now() + 90000;
  let c;
  for (;;) {
    c = (await rest('GET', `/v1/Compositions/${sid}`)).body;
    if (c.status !== 'enqueued' && c.status !== 'processing') break;
    check(Date.now() < until, `${sid}: composed within 90 s`, c);
    await sleep(500);
  }
  equal(c.status, 'completed', `${sid}: completed`);
  const file = await download(run, `/v1/Compositions/${sid}/Media`, `${sid}.mp4`);
  return { resource: c, file };
}

module.exports = {
  // Media warnings in a room recording on connect, on a server that warns after 3 s without media
  // (profile media_warnings_3s; Twilio's threshold, vroom's default, is 30 s). Alice connects with
  // notifyWarnings: ['recording-media-lost'], bob without. Both microphones stop sending RTP (their
  // RTCRtpSender's track replaced with none): alice's audio publication emits `warning`
  // 'recording-media-lost', no sooner than 3 s after, and `warningsCleared` once its RTP flows
  // again; her camera, which kept sending, emits neither; bob, silent as long, gets no `warning`
  // message at all.
  recording_media_warnings: {
    server: 'media_warnings_3s',
    async run(run) {
      const name = roomName('rec-warn');
      await createRoom(name, { RecordParticipantsOnConnect: 'true' });
      const a = await Client.open(run, 'A');
      const b = await Client.open(run, 'B');
      const ra = await a.connect('alice', name, Object.assign({ notifyWarnings: ['recording-media-lost'] }, AV));
      const rb = await b.connect('bob', name, { audio: true });
      const [aMic, aCam, bMic] = [localSid(ra, 'audio'), localSid(ra, 'video'), localSid(rb, 'audio')];
      const asked = (c) => JSON.stringify(c.sent.filter((m) => m.type === 'connect').map((m) => m.participant.media_warnings || null));
      equal(asked(a), '[["recordings"]]', "alice's connect asks for media_warnings [\"recordings\"]");
      equal(asked(b), '[null]', "bob's connect asks for none");
      await receives(a, [bMic], 'bob');
      await receives(b, [aMic], 'alice');
      const marks = [await a.lastSeq(), await b.lastSeq()];
      const warningsBefore = a.received.filter((m) => m.type === 'warning').length;

      const stoppedAt = Date.now();
      equal(await a.silence(aMic, true), 1, "alice's microphone sender sends nothing");
      equal(await b.silence(bMic, true), 1, "bob's microphone sender sends nothing");
      await a.mediaStops(bMic, "bob's microphone no longer arrives (its RTP stopped)");
      const warned = await a.waitEvent('publicationWarning', { trackSid: aMic }, "alice's microphone: publication 'warning'", marks[0]);
      const after = Date.now() - stoppedAt;
      equal(warned.name, 'recording-media-lost', "the warning is 'recording-media-lost'");
      check(after >= 2900, `the warning came ${after} ms after the microphone stopped (the server's threshold: 3000 ms)`);
      // Bob stays silent past alice's warning, so he would have been warned too had he asked.
      await sleep(Math.max(0, stoppedAt + 4500 - Date.now()));
      equal(await a.silence(aMic, false), 1, "alice's microphone sends again");
      await a.waitEvent('publicationWarningsCleared', { trackSid: aMic }, "alice's microphone: 'warningsCleared'", warned.seq);
      equal(await b.silence(bMic, false), 1, "bob's microphone sends again");

      const told = a.received.filter((m) => m.type === 'warning').slice(warningsBefore);
      equal(
        JSON.stringify(told.map((m) => m.states.tracks)),
        JSON.stringify([{ [aMic]: { recordings: 'NO_MEDIA' } }, { [aMic]: { recordings: 'OK' } }]),
        "alice was sent two 'warning' messages: NO_MEDIA, then OK, for her microphone only",
      );
      check(told[1].states.revision > told[0].states.revision, `their revisions rise (${told.map((m) => m.states.revision)})`);
      const camEvents = (await a.events()).filter((e) => e.seq > marks[0] && e.trackSid === aCam && e.type.startsWith('publicationWarning'));
      equal(camEvents.length, 0, "alice's camera, still sending, raised no warning");
      equal(b.received.filter((m) => m.type === 'warning').length, 0, "bob, who did not ask, was sent no 'warning'");
      const bobEvents = (await b.events()).filter((e) => e.type.startsWith('publicationWarning'));
      equal(bobEvents.length, 0, "bob's publication raised no warning");
    },
  },

  // A room with RecordParticipantsOnConnect=true: two clients for about ten seconds, then the room
  // is completed. REST lists four completed recordings (alice's and bob's audio and video), each as
  // long as the call (within a second) and the publisher's participant time; their media, through a
  // signed URL, is Opus-in-Matroska (.mka) and VP8-in-Matroska (.mkv) of that duration. Then a grid
  // composition of the room (mp4): ffprobe reads H.264 and AAC lasting the call (within a second),
  // and the frame in the middle shows both participants (two non-black halves).
  recordings_on_connect: {
    solo: true,
    async run(run) {
      const name = roomName('rec-connect');
      const roomSid = await createRoom(name, { RecordParticipantsOnConnect: 'true' });
      const { a, b, aliceAt, tracks } = await twoInRoom(run, name);
      const t0 = Date.now();
      for (const c of [a, b]) {
        equal((await c.summary()).isRecording, true, `${c.label}: room.isRecording`);
      }
      await sleep(10000);
      const done = await rest('POST', `/v1/Rooms/${roomSid}`, { Status: 'completed' });
      equal(done.status, 202, 'the room is completed');
      const call = (Date.now() - t0) / 1000;
      const whole = (Date.now() - aliceAt) / 1000;
      const list = await completedRecordings(roomSid, 4);
      const parts = (await rest('GET', `/v1/Rooms/${roomSid}/Participants?Status=disconnected`)).body.participants;
      const partDuration = Object.fromEntries(parts.map((p) => [p.sid, p.duration]));
      equal(list.map((r) => r.source_sid).sort().join(), tracks.slice().sort().join(), 'one recording per published track');
      for (const r of list) {
        check(sidPattern('RT').test(r.sid), `${r.sid}: an RT SID`);
        equal(r.container_format, r.type === 'audio' ? 'mka' : 'mkv', `${r.sid}: ${r.type} in ${r.container_format}`);
        equal(r.codec, r.type === 'audio' ? 'OPUS' : 'VP8', `${r.sid}: codec`);
        equal(r.grouping_sids.room_sid, roomSid, `${r.sid}: grouped under the room`);
        const who = r.grouping_sids.participant_sid;
        check(
          r.duration >= Math.floor(call) - 1 && r.duration <= partDuration[who] + 1,
          `${r.sid}: ${r.duration} s, within 1 s of the ${call.toFixed(1)} s call and the publisher's ${partDuration[who]} s`,
          r,
        );
        check(r.size > 0 && r.links.media.endsWith(`/Recordings/${r.sid}/Media`), `${r.sid}: a size and a media link`, r);
        const fetched = await rest('GET', `/v1/Recordings/${r.sid}`);
        equal(fetched.body.status, 'completed', `${r.sid}: fetched by SID`);
        const probe = await probeMedia(run, r);
        equal(probe.streams, 1, `${r.sid}: one stream`);
        check(probe.format.includes('matroska'), `${r.sid}: ffprobe reads Matroska`, probe);
        equal(probe.codec, r.type === 'audio' ? 'opus' : 'vp8', `${r.sid}: ffprobe reads ${r.type === 'audio' ? 'Opus' : 'VP8'}`);
        check(Math.abs(probe.duration - r.duration) <= 1, `${r.sid}: the file lasts ${probe.duration} s (the resource says ${r.duration} s)`, probe);
      }
      const all = await rest('GET', `/v1/Recordings?GroupingSid=${roomSid}`);
      equal((all.body.recordings || []).length, 4, '/v1/Recordings?GroupingSid=<room> lists the four');

      const { resource, file } = await composeGrid(run, roomSid);
      const probe = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_streams', '-show_format', '-of', 'json', file], { encoding: 'utf8' }));
      equal(probe.streams.map((x) => x.codec_name).join(), 'h264,aac', 'the composition is H.264 and AAC');
      const secs = Number(probe.format.duration);
      check(Math.abs(secs - whole) <= 1, `the composition lasts ${secs} s, the call (from alice's join) ${whole.toFixed(1)} s`, { probe: probe.format, resource });
      check(Math.abs(resource.duration - secs) <= 1, `the resource's duration ${resource.duration} s matches the file`, resource);
      equal(resource.resolution, '640x480', 'default resolution');
      // Each cell of the grid of two is 320x480 and holds a 4:3 camera letterboxed: about half of
      // each half of the frame is picture, none of it when a cell stays black.
      const mid = halves(file, secs / 2);
      check(mid.left > 0.3 && mid.right > 0.3, `the middle frame shows both participants (${(100 * mid.left).toFixed(0)} % | ${(100 * mid.right).toFixed(0)} % of each half not black)`, mid);
    },
  },

  // RecordingRules mid-call: excluding everything stops the recordings (the clients see
  // recordingStopped and isRecording false), including everything again starts new ones
  // (recordingStarted). The room ends with eight completed recordings: two spans of four tracks.
  recording_rules_mid_call: {
    async run(run) {
      const name = roomName('rec-rules');
      const roomSid = await createRoom(name, {});
      const { a, b } = await twoInRoom(run, name);
      for (const c of [a, b]) {
        equal((await c.summary()).isRecording, false, `${c.label}: not recording at first`);
      }
      const on = await rest('POST', `/v1/Rooms/${roomSid}/RecordingRules`, { Rules: JSON.stringify([{ type: 'include', all: true }]) });
      equal(on.status, 200, 'RecordingRules include all');
      equal(JSON.stringify(on.body.rules), JSON.stringify([{ type: 'include', all: true }]), 'the rules in force are returned');
      for (const c of [a, b]) {
        await c.waitEvent('recordingStarted', {}, 'recordingStarted');
      }
      await sleep(3000);
      const off = await rest('POST', `/v1/Rooms/${roomSid}/RecordingRules`, { Rules: JSON.stringify({ rules: [{ type: 'exclude', all: true }] }) });
      equal(off.status, 200, 'RecordingRules exclude all');
      for (const c of [a, b]) {
        const e = await c.waitEvent('recordingStopped', {}, 'recordingStopped');
        equal(e.isRecording, false, `${c.label}: room.isRecording false after recordingStopped`);
      }
      await completedRecordings(roomSid, 4);
      const marks = [(await a.events()).length - 1, (await b.events()).length - 1];
      await rest('POST', `/v1/Rooms/${roomSid}/RecordingRules`, { Rules: JSON.stringify([{ type: 'include', kind: 'audio' }]) });
      await a.waitEvent('recordingStarted', {}, 'recordingStarted again', marks[0]);
      await b.waitEvent('recordingStarted', {}, 'recordingStarted again', marks[1]);
      await sleep(2000);
      const bad = await rest('POST', `/v1/Rooms/${roomSid}/RecordingRules`, { Rules: '[]' });
      equal(bad.body.code, 53120, 'an empty rule set is refused with 53120');
      equal((await rest('POST', `/v1/Rooms/${roomSid}`, { Status: 'completed' })).status, 202, 'the room is completed');
      const list = await completedRecordings(roomSid, 6);
      equal(list.filter((r) => r.type === 'audio').length, 4, 'audio was recorded in both spans, video in the first only');
      const rules = await rest('GET', `/v1/Rooms/${roomSid}/RecordingRules`);
      equal(JSON.stringify(rules.body.rules), JSON.stringify([{ type: 'include', kind: 'audio' }]), 'GET RecordingRules shows the last rules');
    },
  },
};
