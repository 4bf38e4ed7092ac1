// Browser scenarios for reaching vroom from restrictive networks: the ICE servers vroom hands out in
// `iced` (its embedded TURN server) when the app passes no `iceServers`, and media relayed through it.

'use strict';

const { AV, Client, check, equal, roomName, selectedCandidates } = require('./lib');

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
      for (const other of ['udp', 'tcp'].filter((p) => p !== protocol)) {
        check(
          dropped.some((u) => u.startsWith('turn:') && u.endsWith(`?transport=${other}`)),
          `${label}: vroom's TURN/${other.toUpperCase()} URL was in iced and kept from the browser`,
          dropped,
        );
      }
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

  // The same where only TURN over TLS gets through (a network that lets only TLS out). Chromium
  // checks the TURN server's certificate as it checks a web server's (against the host in the
  // `turns:` URL); the profile's server has a test certificate for 127.0.0.1, which run.js tells
  // Chromium to accept by its public key (--ignore-certificate-errors-spki-list: that key only).
  turn_relay_tls: {
    server: 'turn_tls',
    async run(run) {
      await relayed(run, { only: '^turns:', protocol: 'tls' });
    },
  },
};
