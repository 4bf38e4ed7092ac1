// Browser scenarios for adaptive media: the media signaling channels twilio-video.js asks for
// (dominant speaker, network quality, track priority, switch-off, render and publisher hints) and
// what the SFU does with them (layers chosen per subscriber, tracks switched off and on).

'use strict';

const { AV, Client, bound, check, equal, failure, localSid, pass, roomName } = require('./lib');

// Waits for the async `probe()` to return a truthy value, polling every 100 ms; returns it and the
// time taken, or fails with the last value after `timeoutMs`.
async function timed(label, probe, timeoutMs = 20000) {
  const start = Date.now();
  let value = null;
  for (;;) {
    value = await probe();
    if (value) {
      pass(`${label} (after ${Date.now() - start} ms)`);
      return { value, ms: Date.now() - start };
    }
    if (Date.now() - start > timeoutMs) {
      throw failure(`${label}: not within ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Every page's `room.dominantSpeaker` (a participant SID or null).
function dominantOn(pages) {
  return Promise.all(pages.map(async (p) => (await p.client.summary()).dominantSpeaker));
}

// Frames encoded so far per outbound video stream (rid) of `client`.
async function encoded(client) {
  return client.page.evaluate(() => window.harness.outboundVideo());
}

// The streams (rid or SSRC) of `client`'s camera that encode frames over the next `ms`; null while
// the camera has no outbound stream yet (nothing to tell).
async function activeLayers(client, ms = 1500) {
  const before = await encoded(client);
  await new Promise((r) => setTimeout(r, ms));
  const after = await encoded(client);
  if (Object.keys(after).length === 0) {
    return null;
  }
  return Object.keys(after).filter((k) => after[k].frames > ((before[k] && before[k].frames) || 0)).sort();
}

// Waits until `client` has an outbound camera stream and none of its layers encodes.
function noLayerEncodes(client, label) {
  return timed(label, async () => {
    const layers = await activeLayers(client, 1000);
    return layers !== null && layers.length === 0;
  });
}

function inboundSize(client) {
  return client.page.evaluate(() => window.harness.inboundSize());
}

// Waits until no more frames of video track `sid` arrive at `client` (frames received unchanged
// over a second). Packets are not counted: with a bandwidth profile the SFU's estimator keeps
// probing the link with padding, which the browser counts as packets of the stream.
function framesStop(client, sid, label) {
  let before = null;
  return timed(label, async () => {
    const now = (await inboundSize(client))[sid];
    const stopped = before !== null && now && now.received === before.received;
    before = now || null;
    if (!stopped) {
      await new Promise((r) => setTimeout(r, 900));
    }
    return stopped;
  });
}

function remoteTrack(client, sid, method, arg) {
  return client.page.evaluate(([s, m, a]) => window.harness.remoteTrack(s, m, a), [sid, method, arg]);
}

module.exports = {
  // Four pages with `dominantSpeaker: true` publishing their microphones: when all but one disable
  // their audio, every page's `room.dominantSpeaker` is that one within 2 s, and it follows when
  // another takes over.
  dominant_speaker: {
    solo: true,
    async run(run) {
      const name = roomName('dominant');
      const pages = [];
      for (const [label, identity] of [['A', 'alice'], ['B', 'bob'], ['C', 'carol'], ['D', 'dave']]) {
        const client = await Client.open(run, label);
        const summary = await client.connect(identity, name, { audio: true, dominantSpeaker: true });
        pages.push({ client, identity, sid: summary.localParticipant.sid });
      }
      for (const speaker of [pages[1], pages[2]]) {
        await Promise.all(pages.map((p) => p.client.page.evaluate((on) => window.harness.setAudioEnabled(on), p === speaker)));
        // The speaker's own page has no remote participant to name.
        const others = pages.filter((p) => p !== speaker);
        const { ms } = await timed(`every other page names ${speaker.identity} the dominant speaker`, async () => {
          const seen = await dominantOn(others);
          return seen.every((s) => s === speaker.sid);
        });
        const limit = bound(2000);
        check(ms <= limit.ms, `every other page names ${speaker.identity} the dominant speaker within ${limit.ms} ms (${limit.why}; ${ms} ms)`);
        await pages[0].client.waitEvent('dominantSpeakerChanged', { participant: speaker.sid }, `dominantSpeakerChanged names ${speaker.identity}`);
      }
    },
  },

  // `networkQuality: { local: 1, remote: 1 }`: each page gets a level 1–5 for itself and the other
  // participant, and networkQualityLevelChanged fires. On this unloaded local link it is 4 or 5.
  async network_quality(run) {
    const name = roomName('nq');
    const opts = Object.assign({ networkQuality: { local: 1, remote: 1 } }, AV);
    const a = await Client.open(run, 'A');
    const b = await Client.open(run, 'B');
    await a.connect('alice', name, opts);
    await b.connect('bob', name, opts);
    for (const [client, who] of [[a, 'alice'], [b, 'bob']]) {
      await client.waitEvent('networkQualityLevelChanged', { local: true }, `${who}: networkQualityLevelChanged for itself`);
      const { value } = await timed(`${who}: levels for itself and the other participant`, async () => {
        const s = await client.summary();
        const remote = s.participants[0];
        return remote && remote.networkQualityLevel !== null && s.localParticipant.networkQualityLevel !== null ? s : null;
      });
      const local = value.localParticipant.networkQualityLevel;
      const remote = value.participants[0].networkQualityLevel;
      check(local >= 4 && local <= 5, `${who}: its own level is 4–5 on an unloaded link (${local})`);
      check(remote >= 1 && remote <= 5, `${who}: the other participant's level is 1–5 (${remote})`);
    }
  },

  // The same on a server that sends each subscriber at most 60 kbit/s of video: a page receiving a
  // 640x480 camera gets less than it asks for, and its level drops to 3 or below.
  network_quality_capped: {
    server: 'capped',
    async run(run) {
      const name = roomName('nq-capped');
      const opts = { audio: false, video: { width: 640, height: 480 }, networkQuality: { local: 1, remote: 0 } };
      const a = await Client.open(run, 'A');
      const b = await Client.open(run, 'B');
      await a.connect('alice', name, opts);
      await b.connect('bob', name, opts);
      const { value } = await timed('bob: a level of 3 or below', async () => {
        const level = (await b.summary()).localParticipant.networkQualityLevel;
        return level !== null && level <= 3 ? level : null;
      });
      check(value >= 1, `bob: level ${value} (1–3) while its downstream is capped`);
    },
  },

  // A 1280x720 camera with adaptive simulcast (`preferredVideoCodecs: 'auto'`: layers scaled 4, 2
  // and 1, turned on by publisher hints); the subscriber says how large it draws the track
  // (contentPreferencesMode 'manual'): small gets the low layer, large a higher one. (With
  // `[{ codec: 'VP8', simulcast: true }]` this Chromium sends all three layers at full size.)
  simulcast_layers: {
    solo: true,
    async run(run) {
      const name = roomName('layers');
      const a = await Client.open(run, 'A');
      const b = await Client.open(run, 'B');
      const ra = await a.connect('alice', name, { video: { width: 1280, height: 720 }, preferredVideoCodecs: 'auto' });
      const cam = localSid(ra, 'video');
      await b.connect('bob', name, { bandwidthProfile: { video: { contentPreferencesMode: 'manual', clientTrackSwitchOffControl: 'manual' } } });
      await b.waitEvent('trackSubscribed', { trackSid: cam }, "bob: subscribed to alice's camera");
      check(await remoteTrack(b, cam, 'setContentPreferences', { renderDimensions: { width: 320, height: 180 } }), 'bob: setContentPreferences 320x180');
      const small = await timed('bob receives the low layer (width 320 or less)', async () => {
        const s = (await inboundSize(b))[cam];
        return s && s.width > 0 && s.width <= 320 ? s : null;
      });
      check(true, `bob: frames of ${small.value.width}x${small.value.height}`);
      check(await remoteTrack(b, cam, 'setContentPreferences', { renderDimensions: { width: 1280, height: 720 } }), 'bob: setContentPreferences 1280x720');
      const large = await timed('bob receives a higher layer (width above 320)', async () => {
        const s = (await inboundSize(b))[cam];
        return s && s.width > 320 ? s : null;
      });
      check(true, `bob: frames of ${large.value.width}x${large.value.height}`);
    },
  },

  // clientTrackSwitchOffControl 'manual': switchOff() stops the frames and fires switchedOff;
  // switchOn() fires switchedOn and brings frames back within 1 s.
  switch_off_manual: {
    solo: true,
    async run(run) {
      const name = roomName('switch-off');
      const a = await Client.open(run, 'A');
      const b = await Client.open(run, 'B');
      const ra = await a.connect('alice', name, { video: { width: 320, height: 240 } });
      const cam = localSid(ra, 'video');
      await b.connect('bob', name, { bandwidthProfile: { video: { clientTrackSwitchOffControl: 'manual' } } });
      await b.waitEvent('trackSubscribed', { trackSid: cam }, "bob: subscribed to alice's camera");
      await b.renders([cam], 20000, "bob shows alice's camera");
      const seq = await b.lastSeq();
      check(await remoteTrack(b, cam, 'switchOff'), 'bob: switchOff()');
      await b.waitEvent('trackSwitchedOff', { trackSid: cam }, 'bob: trackSwitchedOff', seq);
      await framesStop(b, cam, 'bob: no more frames of the switched-off track');
      check(await remoteTrack(b, cam, 'switchOn'), 'bob: switchOn()');
      await b.waitEvent('trackSwitchedOn', { trackSid: cam }, 'bob: trackSwitchedOn', seq);
      await b.rendersAgain(cam, 3, 1000, "bob shows alice's camera again");
    },
  },

  // Two cameras, one published with priority high and one low, to a subscriber whose
  // maxSubscriptionBitrate fits only one: the high one stays on and the low one is switched off;
  // after setPriority turns them around, the reverse.
  priorities: {
    solo: true,
    async run(run) {
      const name = roomName('priorities');
      const a = await Client.open(run, 'A');
      const b = await Client.open(run, 'B');
      const c = await Client.open(run, 'C');
      const cams = {};
      for (const [client, identity, priority] of [[a, 'alice', 'high'], [b, 'bob', 'low']]) {
        await client.connect(identity, name, {});
        const pub = await client.page.evaluate(async (p) => {
          const track = await Twilio.Video.createLocalVideoTrack({ width: 640, height: 480 });
          const room = window.harness.room();
          const published = await room.localParticipant.publishTrack(track, { priority: p });
          return published.trackSid;
        }, priority);
        cams[identity] = pub;
      }
      await c.connect('carol', name, { bandwidthProfile: { video: { maxSubscriptionBitrate: 150000, clientTrackSwitchOffControl: 'manual' } } });
      await c.waitEvent('trackSwitchedOff', { trackSid: cams.bob }, "carol: bob's low-priority camera switched off");
      await c.renders([cams.alice], 20000, "carol shows alice's high-priority camera");
      const seq = await c.lastSeq();
      check(await remoteTrack(c, cams.bob, 'setPriority', 'high'), "carol: setPriority('high') on bob's camera");
      check(await remoteTrack(c, cams.alice, 'setPriority', 'low'), "carol: setPriority('low') on alice's camera");
      await c.waitEvent('trackSwitchedOff', { trackSid: cams.alice }, "carol: alice's camera switched off", seq);
      await c.waitEvent('trackSwitchedOn', { trackSid: cams.bob }, "carol: bob's camera switched on", seq);
      await c.rendersAgain(cams.bob, 3, 2000, "carol shows bob's camera");
      const events = await c.events();
      equal(events.filter((e) => e.seq > seq && e.type === 'trackSwitchedOff' && e.trackSid === cams.bob).length, 0, "bob's camera stays on");
    },
  },

  // preferredVideoCodecs 'auto' (adaptive simulcast): alone in the room, alice's camera encodes
  // nothing; once bob subscribes, layers come on; when he leaves, they go off again.
  publisher_hints: {
    solo: true,
    async run(run) {
      const name = roomName('hints');
      const a = await Client.open(run, 'A');
      await a.connect('alice', name, { video: { width: 1280, height: 720 }, preferredVideoCodecs: 'auto' });
      await noLayerEncodes(a, 'alice: no layer encodes while nobody watches');
      const b = await Client.open(run, 'B');
      await b.connect('bob', name, {});
      const on = await timed('alice: layers encode once bob subscribes', async () => {
        const layers = await activeLayers(a, 1000);
        return layers && layers.length > 0 ? layers : null;
      });
      check(true, `alice encodes ${on.value.join(', ')}`);
      await b.disconnect();
      await noLayerEncodes(a, 'alice: no layer encodes after bob leaves');
    },
  },
};
