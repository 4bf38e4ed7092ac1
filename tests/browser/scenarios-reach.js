// Browser scenarios for reaching vroom from restrictive networks: the ICE servers vroom hands out in
// `iced` (its embedded TURN server) when the app passes no `iceServers`, and media relayed through it.

'use strict';

const { AV, Client, check, equal, roomName } = require('./lib');

// The local candidate of every peer connection's selected pair: its type ('host', 'relay', …) and,
// for a relay, how the browser reaches the TURN server. Read from the RTCPeerConnections
// twilio-video.js keeps (2.36's internals: room → signaling → peer connection manager).
function selectedCandidates(client) {
  return client.page.evaluate(async () => {
    const room = window.harness.room();
    const out = [];
    for (const pcv2 of room._signaling._peerConnectionManager._peerConnections.values()) {
      const report = await pcv2._peerConnection.getStats();
      const stats = [];
      report.forEach((s) => stats.push(s));
      const byId = new Map(stats.map((s) => [s.id, s]));
      for (const t of stats.filter((s) => s.type === 'transport' && s.selectedCandidatePairId)) {
        const pair = byId.get(t.selectedCandidatePairId);
        const local = pair && byId.get(pair.localCandidateId);
        if (local) out.push({ type: local.candidateType, relayProtocol: local.relayProtocol || null });
      }
    }
    return out;
  });
}

// Two pages whose apps pass no `iceServers` and allow only relayed candidates
// (`iceTransportPolicy: 'relay'`): twilio-video.js asks vroom for ICE servers (`ice` → `iced`),
// gets vroom's TURN server with a credential, connects through it, and each page receives the
// other's audio and video over the relay. The pages' network lets only the TURN URLs matching
// `only` through (see index.html); every selected pair must be relayed over `protocol`.
async function relayed(run, { only, protocol }) {
  const name = roomName(`turn-${protocol}`);
  const options = Object.assign({ iceServers: null, iceTransportPolicy: 'relay' }, AV);
  const a = await Client.open(run, 'A');
  const b = await Client.open(run, 'B');
  if (only) {
    for (const c of [a, b]) await c.page.evaluate((f) => { window.iceUrlFilter = f; }, only);
  }
  const ra = await a.connect('alice', name, options);
  const rb = await b.connect('bob', name, options);
  const aTracks = ra.localParticipant.tracks.map((t) => t.trackSid);
  const bTracks = rb.localParticipant.tracks.map((t) => t.trackSid);
  for (const [client, tracks, who] of [[a, bTracks, 'bob'], [b, aTracks, 'alice']]) {
    for (const sid of tracks) {
      await client.waitEvent('trackSubscribed', { trackSid: sid }, `subscribed to ${who}'s ${sid}`);
    }
    await client.mediaFlows(tracks, `receives ${who}'s audio and video through the relay`);
  }
  for (const [client, label] of [[a, 'A'], [b, 'B']]) {
    if (only) {
      const dropped = await client.page.evaluate(() => window.iceUrlsDropped);
      const other = protocol === 'tcp' ? 'udp' : 'tcp';
      check(
        dropped.some((u) => u.endsWith(`?transport=${other}`)),
        `${label}: vroom's TURN/${other.toUpperCase()} URL was in iced and kept from the browser`,
        dropped,
      );
    }
    const selected = await selectedCandidates(client);
    check(selected.length > 0, `${label}: a selected candidate pair`, selected);
    equal(
      JSON.stringify(selected.filter((c) => !(c.type === 'relay' && c.relayProtocol === protocol))),
      '[]',
      `${label}: every peer connection goes through vroom's TURN server over ${protocol.toUpperCase()}`,
    );
  }
}

module.exports = {
  // Only TURN over UDP gets through (with both, the browser may settle on either).
  async turn_relay_udp(run) {
    await relayed(run, { only: '^turn:[^?]*\\?transport=udp$', protocol: 'udp' });
  },

  // The same where only TURN over TCP gets through (a network that blocks UDP).
  async turn_relay_tcp(run) {
    await relayed(run, { only: '^turn:[^?]*\\?transport=tcp$', protocol: 'tcp' });
  },
};
