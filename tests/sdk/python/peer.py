"""A tiny signaling client for the conformance suite: just enough of what twilio-video.js sends over
/signaling (TCMP v2 frames carrying RSP v2 messages) to put a participant in a room, keep it there
with heartbeats, and see how it leaves. Participants only exist by connecting this way."""

import json
import queue
import threading
import uuid

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

# How long to wait for an expected frame, seconds.
WAIT = 10.0


def track(track_id, kind, name):
    """A track as the client lists it in its participant state."""
    return {"enabled": True, "id": track_id, "kind": kind, "name": name, "priority": "standard"}


class Peer:
    """One signaling connection. `answer` is the body of the server's answer to `connect`
    (`connected` or `error`); `sid` is the participant SID once connected."""

    def __init__(self, ws_url, token, room, tracks=()):
        self.ws = connect(ws_url, open_timeout=WAIT, close_timeout=2)
        self.frames = queue.Queue()
        self.closed = threading.Event()
        self.stop = threading.Event()
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()
        tracks = list(tracks)
        body = {
            "name": room,
            "participant": {"revision": 1, "tracks": tracks},
            "peer_connections": [],
            "type": "connect",
            "version": 2,
            "ice_servers": "overrode",
            "publisher": {"name": "vroom-sdk-conformance", "sdk_version": "1", "user_agent": "python"},
            "media_signaling": {},
            "subscribe": {"rules": [{"type": "include", "all": True}], "revision": 1},
            "format": "unified",
            "token": token,
        }
        self.send({"id": str(uuid.uuid4()), "timeout": 5000, "type": "hello", "version": 2, "body": body})
        welcome = self.next_frame()
        if welcome is None or welcome.get("type") != "welcome":
            raise AssertionError(f"expected a welcome frame, got {welcome!r}")
        self.answer = self.next_msg()
        if self.answer is None:
            raise AssertionError("no answer to connect")
        self.sid = self.answer.get("participant", {}).get("sid") if self.answer.get("type") == "connected" else None
        self.session = self.answer.get("session")
        self.published = {t.get("id"): t.get("sid") for t in self.answer.get("published", {}).get("tracks", [])}
        if self.sid:
            interval = max(welcome.get("negotiatedTimeout", 5000) - 200, 200) / 1000
            threading.Thread(target=self._heartbeat, args=(interval,), daemon=True).start()

    def send(self, frame):
        with self.lock:
            self.ws.send(json.dumps(frame))

    def _read(self):
        try:
            for text in self.ws:
                self.frames.put(json.loads(text))
        except (ConnectionClosed, OSError):
            pass
        self.closed.set()
        self.frames.put(None)

    def _heartbeat(self, interval):
        while not self.stop.wait(interval) and not self.closed.is_set():
            try:
                self.send({"type": "heartbeat"})
            except (ConnectionClosed, OSError):
                return

    def next_frame(self, wait=WAIT):
        """The next frame other than a heartbeat, or None once the connection is closed."""
        while True:
            try:
                frame = self.frames.get(timeout=wait)
            except queue.Empty:
                raise AssertionError(f"no frame from the server within {wait} s") from None
            if frame is None:
                self.frames.put(None)  # stays closed for later reads
                return None
            if frame.get("type") != "heartbeat":
                return frame

    def next_msg(self, wait=WAIT):
        """The body of the next `msg` frame, or None once the connection is closed."""
        while True:
            frame = self.next_frame(wait)
            if frame is None or frame.get("type") == "msg":
                return None if frame is None else frame["body"]

    def ending(self, wait=WAIT):
        """Waits for the message that ends the session (`error`, or `disconnected` when the room
        completes) and returns its body."""
        while True:
            body = self.next_msg(wait)
            if body is None:
                raise AssertionError("the connection closed without an error or disconnected message")
            if body.get("type") in ("error", "disconnected"):
                return body

    def wait_closed(self, wait=WAIT):
        """Waits for the server to close the connection."""
        if not self.closed.wait(wait):
            raise AssertionError(f"the server did not close the connection within {wait} s")

    def leave(self):
        """Leaves like twilio-video.js: `disconnect`, `bye`, then a normal close."""
        self.stop.set()
        try:
            self.send({"type": "msg", "body": {"session": self.session, "type": "disconnect", "version": 2}})
            self.send({"type": "bye"})
        except (ConnectionClosed, OSError):
            pass
        self.close()

    def close(self):
        self.stop.set()
        self.ws.close()
