// A tiny signaling client for the conformance suite: just enough of what twilio-video.js sends over
// /signaling (TCMP v2 frames carrying RSP v2 messages) to put a participant in a room, keep it there
// with heartbeats, and see how it leaves. Participants only exist by connecting this way.
'use strict';

const { randomUUID } = require('node:crypto');
const WebSocket = require('ws');

// How long to wait for an expected frame, ms.
const WAIT = 10000;

/** A track as the client lists it in its participant state. */
function track(id, kind, name) {
  return { enabled: true, id, kind, name, priority: 'standard' };
}

class Peer {
  /**
   * Opens /signaling, says hello with a `connect` body and waits for the answer. `answer` is the
   * answer's body (`connected` or `error`); `sid` is the participant SID once connected.
   */
  static async connect(wsUrl, token, room, tracks = []) {
    const peer = new Peer(wsUrl);
    await peer.opened;
    peer.send({
      id: randomUUID(),
      timeout: 5000,
      type: 'hello',
      version: 2,
      body: {
        name: room,
        participant: { revision: 1, tracks },
        peer_connections: [],
        type: 'connect',
        version: 2,
        ice_servers: 'overrode',
        publisher: { name: 'vroom-sdk-conformance', sdk_version: '1', user_agent: 'node' },
        media_signaling: {},
        subscribe: { rules: [{ type: 'include', all: true }], revision: 1 },
        format: 'unified',
        token,
      },
    });
    const welcome = await peer.nextFrame();
    if (!welcome || welcome.type !== 'welcome') {
      throw new Error(`expected a welcome frame, got ${JSON.stringify(welcome)}`);
    }
    peer.answer = await peer.nextMsg();
    if (!peer.answer) throw new Error('no answer to connect');
    if (peer.answer.type === 'connected') {
      peer.sid = peer.answer.participant.sid;
      peer.session = peer.answer.session;
      peer.published = Object.fromEntries((peer.answer.published?.tracks ?? []).map((t) => [t.id, t.sid]));
      const interval = Math.max((welcome.negotiatedTimeout ?? 5000) - 200, 200);
      peer.heartbeat = setInterval(() => peer.send({ type: 'heartbeat' }), interval);
    }
    return peer;
  }

  constructor(wsUrl) {
    this.frames = [];
    this.waiters = [];
    this.isClosed = false;
    this.ws = new WebSocket(wsUrl);
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', resolve);
      this.ws.once('error', reject);
    });
    this.closedPromise = new Promise((resolve) => this.ws.once('close', resolve));
    this.ws.on('message', (data) => this.push(JSON.parse(data.toString())));
    this.ws.on('close', () => {
      this.isClosed = true;
      clearInterval(this.heartbeat);
      this.push(null);
    });
    this.ws.on('error', () => {});
  }

  push(frame) {
    const waiter = this.waiters.shift();
    if (waiter) waiter(frame);
    else this.frames.push(frame);
  }

  send(frame) {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  /** The next frame (heartbeats included), or null once the connection is closed. */
  raw(wait) {
    if (this.frames.length > 0) {
      const frame = this.frames.shift();
      if (frame === null) this.frames.unshift(null); // stays closed for later reads
      return Promise.resolve(frame);
    }
    if (this.isClosed) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no frame from the server within ${wait} ms`));
      }, wait);
      const waiter = (frame) => {
        clearTimeout(timer);
        if (frame === null) this.frames.push(null);
        resolve(frame);
      };
      this.waiters.push(waiter);
    });
  }

  /** The next frame other than a heartbeat, or null once the connection is closed. */
  async nextFrame(wait = WAIT) {
    for (;;) {
      const frame = await this.raw(wait);
      if (frame === null || frame.type !== 'heartbeat') return frame;
    }
  }

  /** The body of the next `msg` frame, or null once the connection is closed. */
  async nextMsg(wait = WAIT) {
    for (;;) {
      const frame = await this.nextFrame(wait);
      if (frame === null) return null;
      if (frame.type === 'msg') return frame.body;
    }
  }

  /**
   * Waits for the message that ends the session (`error`, or `disconnected` when the room
   * completes) and returns its body.
   */
  async ending(wait = WAIT) {
    for (;;) {
      const body = await this.nextMsg(wait);
      if (body === null) throw new Error('the connection closed without an error or disconnected message');
      if (body.type === 'error' || body.type === 'disconnected') return body;
    }
  }

  /** Waits for the server to close the connection. */
  async waitClosed(wait = WAIT) {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the server did not close the connection within ${wait} ms`)), wait);
    });
    try {
      await Promise.race([this.closedPromise, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Leaves like twilio-video.js: `disconnect`, `bye`, then a normal close. */
  async leave() {
    this.send({ type: 'msg', body: { session: this.session, type: 'disconnect', version: 2 } });
    this.send({ type: 'bye' });
    await this.close();
  }

  async close() {
    clearInterval(this.heartbeat);
    if (!this.isClosed) {
      this.ws.close(1000);
      await this.closedPromise;
    }
  }
}

module.exports = { Peer, track };
