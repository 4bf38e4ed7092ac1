// A first call with Twilio's own Node helper library against vroom: create (or find) a room, list
// the rooms in progress, and mint an access token for it, as an app server would.
//
//   npm install          (in examples/node: Twilio's library, twilio 6.2.0)
//   VROOM_ACCOUNT_SID=AC… VROOM_API_KEY_SID=SK… VROOM_API_KEY_SECRET=… node first-call.js
//
// (`vroom credentials` prints the three values; VROOM_URL defaults to http://127.0.0.1:8080.) Then
// open the /quickstart URL it prints in two browser tabs, paste one token in each, and press Join.
'use strict';

const twilio = require('twilio');

const url = (process.env.VROOM_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const accountSid = process.env.VROOM_ACCOUNT_SID;
const keySid = process.env.VROOM_API_KEY_SID;
const keySecret = process.env.VROOM_API_KEY_SECRET;
if (!accountSid || !keySid || !keySecret) {
  console.error('Set VROOM_ACCOUNT_SID, VROOM_API_KEY_SID and VROOM_API_KEY_SECRET (see `vroom credentials`).');
  process.exit(1);
}

// The only changes from an app that talks to Twilio: the base URL, and vroom's key.
const client = twilio(keySid, keySecret, { accountSid });
client.video.baseUrl = url;

async function main() {
  const name = 'DailyStandup';
  let room;
  try {
    room = await client.video.v1.rooms.create({ uniqueName: name, type: 'group' });
    console.log(`Created room ${room.uniqueName} (${room.sid})`);
  } catch (e) {
    // 53113: a room in progress already has that name; use it.
    if (e.code !== 53113) throw e;
    room = await client.video.v1.rooms(name).fetch();
    console.log(`Room ${room.uniqueName} (${room.sid}) is already in progress`);
  }

  const live = await client.video.v1.rooms.list({ status: 'in-progress', limit: 20 });
  console.log(`Rooms in progress: ${live.map((r) => r.uniqueName).join(', ')}`);

  const { AccessToken } = twilio.jwt;
  for (const identity of ['alice', 'bob']) {
    const token = new AccessToken(accountSid, keySid, keySecret, { identity, ttl: 3600 });
    token.addGrant(new AccessToken.VideoGrant({ room: name }));
    console.log(`Token for ${identity}: ${token.toJwt()}`);
  }
  console.log(`Join: open ${url}/quickstart in two tabs and paste one token in each.`);
}

main().catch((e) => {
  console.error(`Failed: ${e.message}${e.code ? ` (Twilio error ${e.code})` : ''}`);
  process.exit(1);
});
