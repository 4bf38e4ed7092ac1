// In-page side of the browser tests: connects with twilio-video.js and records every room event as
// plain data in `window.harness.events`, which run.js waits on. Only plain JSON crosses to Node.
(function () {
  'use strict';

  const events = [];
  // Callbacks waiting for an event (`waitFor`), each called with every event logged.
  const waiters = new Set();
  let room = null;

  function log(type, data) {
    const event = Object.assign({ type, seq: events.length }, data || {});
    events.push(event);
    for (const waiter of Array.from(waiters)) {
      waiter(event);
    }
  }

  function errorOf(e) {
    return e ? { code: e.code === undefined ? null : e.code, message: String(e.message || e) } : null;
  }

  function publications(participant) {
    return Array.from(participant.tracks.values()).map((p) => ({
      trackSid: p.trackSid,
      trackName: p.trackName,
      kind: p.kind,
    }));
  }

  function remote(participant) {
    return {
      sid: participant.sid,
      identity: participant.identity,
      state: participant.state,
      tracks: publications(participant),
      networkQualityLevel: participant.networkQualityLevel,
    };
  }

  function summary() {
    if (!room) {
      return null;
    }
    return {
      sid: room.sid,
      name: room.name,
      state: room.state,
      mediaRegion: room.mediaRegion,
      localParticipant: {
        sid: room.localParticipant.sid,
        identity: room.localParticipant.identity,
        signalingRegion: room.localParticipant.signalingRegion,
        tracks: publications(room.localParticipant),
        networkQualityLevel: room.localParticipant.networkQualityLevel,
      },
      dominantSpeaker: room.dominantSpeaker ? room.dominantSpeaker.sid : null,
      isRecording: room.isRecording,
      participants: Array.from(room.participants.values()).map(remote),
    };
  }

  // Per subscribed video track: when it was subscribed, when its <video> element presented its first
  // frame, how many frames it presented and their size (requestVideoFrameCallback: frames the page
  // really shows, not only packets received).
  const rendered = {};

  function watchFrames(trackSid, element) {
    const entry = { subscribedAt: Date.now(), firstFrameAt: null, frames: 0, width: 0, height: 0 };
    rendered[trackSid] = entry;
    const onFrame = (_now, meta) => {
      if (entry.firstFrameAt === null) {
        entry.firstFrameAt = Date.now();
      }
      entry.frames += 1;
      entry.width = meta.width;
      entry.height = meta.height;
      element.requestVideoFrameCallback(onFrame);
    };
    element.requestVideoFrameCallback(onFrame);
  }

  // Remote video tracks by SID, for switchOff()/switchOn()/setPriority()/setContentPreferences().
  const remoteTracks = {};

  function watchQuality(p, local) {
    p.on('networkQualityLevelChanged', (level) =>
      log('networkQualityLevelChanged', { participant: p.sid, local, level }));
  }

  function watch(r) {
    r.on('dominantSpeakerChanged', (p) => log('dominantSpeakerChanged', { participant: p ? p.sid : null }));
    watchQuality(r.localParticipant, true);
    r.participants.forEach((p) => watchQuality(p, false));
    r.on('participantConnected', (p) => watchQuality(p, false));
    r.on('trackSwitchedOff', (track) => log('trackSwitchedOff', { trackSid: track.sid }));
    r.on('trackSwitchedOn', (track) => log('trackSwitchedOn', { trackSid: track.sid }));
    r.on('participantConnected', (p) => log('participantConnected', remote(p)));
    r.on('participantDisconnected', (p) => log('participantDisconnected', remote(p)));
    r.on('participantReconnecting', (p) => log('participantReconnecting', remote(p)));
    r.on('participantReconnected', (p) => log('participantReconnected', remote(p)));
    r.on('trackSubscribed', (track, pub, p) => {
      log('trackSubscribed', { trackSid: pub.trackSid, kind: track.kind, participant: p.identity });
      // Play what arrives, as an app would: audio is only decoded when it is played out.
      if (track.kind === 'video') {
        remoteTracks[pub.trackSid] = track;
      }
      if (track.kind !== 'data') {
        const element = track.attach();
        document.body.appendChild(element);
        if (track.kind === 'video') {
          watchFrames(pub.trackSid, element);
        }
      }
    });
    r.on('trackUnsubscribed', (track, pub, p) =>
      log('trackUnsubscribed', { trackSid: pub.trackSid, kind: track.kind, participant: p.identity }));
    r.on('trackMessage', (data, track, p) => {
      // Binary messages (ArrayBuffer) are logged as hex.
      const binary = data instanceof ArrayBuffer;
      const text = binary ? Array.from(new Uint8Array(data), (b) => b.toString(16).padStart(2, '0')).join('') : String(data);
      log('trackMessage', { data: text, binary, trackSid: track.sid || null, participant: p.identity });
    });
    r.on('trackPublished', (pub, p) =>
      log('trackPublished', { trackSid: pub.trackSid, trackName: pub.trackName, kind: pub.kind, participant: p.identity }));
    r.on('trackUnpublished', (pub, p) =>
      log('trackUnpublished', { trackSid: pub.trackSid, kind: pub.kind, participant: p.identity }));
    r.on('recordingStarted', () => log('recordingStarted', { isRecording: r.isRecording }));
    r.on('recordingStopped', () => log('recordingStopped', { isRecording: r.isRecording }));
    r.on('reconnecting', (e) => log('reconnecting', { error: errorOf(e) }));
    r.on('reconnected', () => log('reconnected'));
    r.on('disconnected', (_room, e) => log('disconnected', { error: errorOf(e) }));
    r.localParticipant.on('trackPublished', (pub) =>
      log('localTrackPublished', { trackSid: pub.trackSid, trackName: pub.trackName, kind: pub.kind }));
    // Media warnings (raised only with `notifyWarnings`), on every local publication.
    const watchWarnings = (pub) => {
      pub.on('warning', (name) => log('publicationWarning', { trackSid: pub.trackSid, kind: pub.kind, name }));
      pub.on('warningsCleared', () => log('publicationWarningsCleared', { trackSid: pub.trackSid, kind: pub.kind }));
    };
    r.localParticipant.tracks.forEach(watchWarnings);
    r.localParticipant.on('trackPublished', watchWarnings);
    r.localParticipant.on('trackPublicationFailed', (e, track) =>
      log('localTrackPublicationFailed', { error: errorOf(e), kind: track && track.kind }));
  }

  window.harness = {
    events,

    // Resolves with the first event of `type` after `after` (a `seq`) whose fields equal those of
    // `match`, as soon as it is logged; with null after `timeoutMs`.
    waitFor(type, match, after, timeoutMs) {
      const fits = (e) => e.seq > after && e.type === type && Object.keys(match).every((k) => e[k] === match[k]);
      const found = events.find(fits);
      if (found) {
        return Promise.resolve(found);
      }
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          resolve(null);
        }, timeoutMs);
        function waiter(e) {
          if (fits(e)) {
            clearTimeout(timer);
            waiters.delete(waiter);
            resolve(e);
          }
        }
        waiters.add(waiter);
      });
    },

    // Connects and resolves with the room's summary, or with `{ error }` when connect() rejects.
    async connect(token, options) {
      const opts = Object.assign(
        { iceServers: [], insights: false, audio: false, video: false },
        options,
      );
      // `iceServers: null` stands for an app that passes none: twilio-video.js then asks vroom.
      if (opts.iceServers === null) delete opts.iceServers;
      // `dataTrack: name` publishes a LocalDataTrack of that name from the start (in `connect`).
      if (opts.dataTrack) {
        window.dataTrack = new Twilio.Video.LocalDataTrack({ name: opts.dataTrack });
        opts.tracks = (opts.tracks || []).concat([window.dataTrack]);
        delete opts.dataTrack;
      }
      try {
        room = await Twilio.Video.connect(token, opts);
      } catch (e) {
        log('connectFailed', { error: errorOf(e) });
        return { error: errorOf(e) };
      }
      watch(room);
      log('connected', { sid: room.sid });
      return summary();
    },

    summary,

    // The twilio-video.js Room, for scenarios that call the SDK directly.
    room() {
      return room;
    },

    // What each subscribed video track's <video> element presented (see watchFrames).
    rendered() {
      return JSON.parse(JSON.stringify(rendered));
    },

    // Publishes a new fake-camera (or microphone) track; resolves with its publication.
    async publish(kind, name) {
      const create = kind === 'audio' ? Twilio.Video.createLocalAudioTrack : Twilio.Video.createLocalVideoTrack;
      const track = await create(kind === 'audio' ? { name } : { name, width: 320, height: 240 });
      try {
        const pub = await room.localParticipant.publishTrack(track);
        return { trackSid: pub.trackSid, trackName: pub.trackName, kind: pub.kind };
      } catch (e) {
        return { error: errorOf(e) };
      }
    },

    // Starts publishing a new fake camera without waiting for the publication (`publishDone()` does).
    async startPublish(name) {
      const track = await Twilio.Video.createLocalVideoTrack({ name, width: 320, height: 240 });
      window.publishing = room.localParticipant.publishTrack(track).then(
        (pub) => ({ trackSid: pub.trackSid, trackName: pub.trackName, kind: pub.kind }),
        (e) => ({ error: errorOf(e) }),
      );
      return true;
    },

    publishDone() {
      return window.publishing;
    },

    // How many offers the page's peer connections have created.
    offersCreated() {
      return window.peerConnections.reduce((n, pc) => n + pc.offersCreated, 0);
    },

    // Stops the RTP of the local track published as `trackSid` (the page's only track of its kind)
    // without the SDK knowing, as a stalled capture or a lost uplink would: its RTCRtpSender's track
    // is replaced with none. (A disabled track would still send silence or black frames.)
    // `silence(sid, false)` puts the track back. Resolves with the number of senders changed.
    async silence(trackSid, off) {
      const pub = Array.from(room.localParticipant.tracks.values()).find((p) => p.trackSid === trackSid);
      if (!pub) {
        return 0;
      }
      window.silenced = window.silenced || {};
      if (off) {
        const senders = window.peerConnections
          .filter((pc) => pc.connectionState !== 'closed')
          .flatMap((pc) => pc.getSenders())
          .filter((s) => s.track && s.track.kind === pub.kind);
        window.silenced[trackSid] = senders.map((sender) => ({ sender, track: sender.track }));
        await Promise.all(senders.map((s) => s.replaceTrack(null)));
        return senders.length;
      }
      const held = window.silenced[trackSid] || [];
      delete window.silenced[trackSid];
      await Promise.all(held.map((h) => h.sender.replaceTrack(h.track)));
      return held.length;
    },

    // Unpublishes (and stops) the local track published as `trackSid`; true if there was one.
    unpublish(trackSid) {
      const pub = Array.from(room.localParticipant.tracks.values()).find((p) => p.trackSid === trackSid);
      if (!pub) {
        return false;
      }
      pub.unpublish();
      if (pub.track.stop) {
        // Data tracks have nothing to stop.
        pub.track.stop();
      }
      return true;
    },

    // Stops the local track published as `trackSid` and starts it again in place (a new camera
    // capture behind the same publication, as after a device change); resolves when it runs again.
    async restart(trackSid) {
      const pub = Array.from(room.localParticipant.tracks.values()).find((p) => p.trackSid === trackSid);
      if (!pub) {
        return false;
      }
      pub.track.stop();
      await pub.track.restart();
      return true;
    },

    // Per received track (keyed by its msid track id, which vroom sets to the track SID): packets
    // and decoded frames so far, from every peer connection's inbound-rtp statistics.
    async inbound() {
      const out = {};
      for (const pc of window.peerConnections) {
        if (pc.connectionState === 'closed') {
          continue;
        }
        const report = await pc.getStats();
        report.forEach((s) => {
          if (s.type === 'inbound-rtp' && s.trackIdentifier) {
            out[s.trackIdentifier] = {
              kind: s.kind,
              packets: s.packetsReceived || 0,
              frames: s.kind === 'video' ? s.framesDecoded || 0 : s.totalSamplesReceived || 0,
            };
          }
        });
      }
      return out;
    },

    // The video streams of every open peer connection, from getStats(): what the page sends
    // (`outbound`: one entry per encoded stream, a simulcast layer each) and receives (`inbound`),
    // each with its codec's MIME type and frame count.
    async videoStreams() {
      const out = { outbound: [], inbound: [] };
      for (const pc of window.peerConnections) {
        if (pc.connectionState === 'closed') {
          continue;
        }
        const report = await pc.getStats();
        const codecs = {};
        report.forEach((s) => {
          if (s.type === 'codec') {
            codecs[s.id] = s.mimeType;
          }
        });
        report.forEach((s) => {
          if (s.kind !== 'video' || (s.type !== 'outbound-rtp' && s.type !== 'inbound-rtp')) {
            return;
          }
          const entry = {
            ssrc: s.ssrc,
            rid: s.rid || null,
            codec: codecs[s.codecId] || null,
            frames: (s.type === 'outbound-rtp' ? s.framesEncoded : s.framesDecoded) || 0,
          };
          (s.type === 'outbound-rtp' ? out.outbound : out.inbound).push(entry);
        });
      }
      return out;
    },

    // A REST call made by the page itself, to another origin (vroom's): the browser preflights it
    // and checks the CORS headers, as for any browser-side tool calling Twilio's API.
    async rest(baseUrl, method, path, form, basic) {
      const headers = { authorization: `Basic ${btoa(basic)}` };
      let body;
      if (form) {
        headers['content-type'] = 'application/x-www-form-urlencoded';
        body = new URLSearchParams(form).toString();
      }
      try {
        const res = await fetch(`${baseUrl}${path}`, { method, headers, body });
        return { status: res.status, body: await res.json() };
      } catch (e) {
        return { status: 0, error: String(e) };
      }
    },

    // Publishes a data track; resolves with its publication, or `{ error }`.
    async publishData(name) {
      const track = new Twilio.Video.LocalDataTrack({ name });
      window.dataTrack = track;
      try {
        const pub = await room.localParticipant.publishTrack(track);
        return { trackSid: pub.trackSid, trackName: pub.trackName, kind: pub.kind };
      } catch (e) {
        return { error: errorOf(e) };
      }
    },

    // Whether the data channel the page opened last (for the data track it published last) is open:
    // twilio-video.js silently drops what is sent before. (Its label is the id of the publication's
    // clone of the track's sender, not the LocalDataTrack's id; the page opens no other channels.)
    dataOpen() {
      const last = window.dataChannels[window.dataChannels.length - 1];
      return !!last && last.readyState === 'open';
    },

    // Sends `text`, or with `hex` the bytes it spells as an ArrayBuffer.
    sendData(text, hex) {
      if (hex) {
        const bytes = new Uint8Array(text.match(/../g).map((h) => parseInt(h, 16)));
        window.dataTrack.send(bytes.buffer);
      } else {
        window.dataTrack.send(text);
      }
    },

    // The state of every peer connection the SDK made, in creation order.
    peerConnectionStates() {
      return window.peerConnections.map((pc) => pc.connectionState);
    },

    // Enables or disables every local audio track (a disabled one sends silence).
    setAudioEnabled(enabled) {
      room.localParticipant.audioTracks.forEach((pub) => pub.track.enable(enabled));
      return true;
    },

    // Calls `method` (switchOff, switchOn, setPriority, setContentPreferences) on the remote video
    // track `sid` with `arg`.
    remoteTrack(sid, method, arg) {
      const track = remoteTracks[sid];
      if (!track) {
        return false;
      }
      track[method](arg);
      return true;
    },

    // The <video> elements of remote track `sid`, resized to `width`x`height` CSS pixels (what
    // clientTrackSwitchOffControl/contentPreferencesMode 'auto' observe).
    resize(sid, width, height) {
      const track = remoteTracks[sid];
      if (!track) {
        return false;
      }
      track._attachments.forEach((el) => {
        el.style.width = `${width}px`;
        el.style.height = `${height}px`;
      });
      return true;
    },

    // Per received video track: its frame size, from inbound-rtp statistics.
    async inboundSize() {
      const out = {};
      for (const pc of window.peerConnections) {
        if (pc.connectionState === 'closed') {
          continue;
        }
        (await pc.getStats()).forEach((s) => {
          if (s.type === 'inbound-rtp' && s.kind === 'video' && s.trackIdentifier) {
            out[s.trackIdentifier] = {
              width: s.frameWidth || 0,
              height: s.frameHeight || 0,
              frames: s.framesDecoded || 0,
              received: s.framesReceived || 0,
              packets: s.packetsReceived || 0,
            };
          }
        });
      }
      return out;
    },

    // The page's own video encodings: per outbound-rtp stream (rid or ssrc), frames sent so far.
    async outboundVideo() {
      const out = {};
      for (const pc of window.peerConnections) {
        if (pc.connectionState === 'closed') {
          continue;
        }
        (await pc.getStats()).forEach((s) => {
          if (s.type === 'outbound-rtp' && s.kind === 'video') {
            out[s.rid || String(s.ssrc)] = { frames: s.framesEncoded || 0, active: s.active !== false, width: s.frameWidth || 0 };
          }
        });
      }
      return out;
    },

    disconnect() {
      if (room) {
        room.disconnect();
      }
      return room ? room.state : null;
    },
  };

  window.harnessReady = typeof Twilio !== 'undefined' && !!Twilio.Video;
})();
